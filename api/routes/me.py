"""Who am I: the token's user, role, pemda and SKPD (or NPWP), as the API understood them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api import auth
from api.auth import Principal
from api.models import PrincipalOut
from api.problems import responses
from api.routing import AreaRouter

router = AreaRouter(prefix="/pemda/{pemda}", tags=["session"], responses=responses(401, 404))


@router.get("/me", summary="The authenticated user", openapi_extra=auth.ANYONE.doc)
async def me(who: Annotated[Principal, Depends(auth.ANYONE)]) -> PrincipalOut:
    return PrincipalOut(
        user_id=who.user_id, role=who.role.value, pemda=who.pemda, npwp=who.npwp, skpd=who.skpd
    )
