"""``GET /docs``: Swagger UI served by kasda itself, no CDN.

The browser loads only ``/docs/assets/*``: Swagger UI's built files from the ``swagger-ui-bundle``
package and kasda's own start script (``api/static/swagger-init.js``). FastAPI's defaults would
fetch Swagger UI and ReDoc from a CDN, so ``create_app`` turns them off; a deployment without
internet access, or with a strict content security policy (``api.edge``), still has its docs.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from api.problems import ProblemError

router = APIRouter(include_in_schema=False)

_STATIC = Path(__file__).parent / "static"
_SWAGGER = Path(str(swagger_ui_path))
# The only files served: nothing else of the package (its demo page points at a petstore online).
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui.css": (_SWAGGER / "swagger-ui.css", "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": (_SWAGGER / "swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "favicon-32x32.png": (_SWAGGER / "favicon-32x32.png", "image/png"),
    "swagger-init.js": (_STATIC / "swagger-init.js", "text/javascript; charset=utf-8"),
}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kasda API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-init.js"></script>
</body>
</html>
"""


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.get("/docs/assets/{name}")
async def swagger_asset(name: str) -> FileResponse:
    found = ASSETS.get(name)
    if found is None:
        raise ProblemError(404, "not_found", f"no asset {name!r}")
    path, media_type = found
    return FileResponse(path, media_type=media_type)
