"""Why kasda refused, in plain Indonesian: one sentence per rule of the ledger (``ledger/errors.py``
names them) and of the API (``api/auth.py``). A page shows this sentence first and the ledger's own
detail, with its figures, under it."""

from __future__ import annotations

from api.problems import ProblemError
from ledger.errors import DomainError

RULES: dict[str, str] = {
    "separation_of_duties": "Satu orang tidak boleh melakukan dua tahap pada satu pembayaran.",
    "step_requires_role": "Anda tidak berwenang untuk langkah ini.",
    "role_not_permitted": "Anda tidak berwenang untuk langkah ini.",
    "committed_plus_realised_within_pagu": "Melebihi sisa pagu rincian anggaran ini.",
    "pagu_not_below_committed_plus_realised": "Pagu baru lebih kecil dari yang sudah terikat dan "
    "terealisasi.",
    "spending_within_spd": "Melebihi sisa SPD (Surat Penyediaan Dana) SKPD ini untuk bulan "
    "berjalan, atau SPD melebihi anggaran kas.",
    "anggaran_kas_covers_pagu_and_spd": "Anggaran kas tiap rincian anggaran harus sama dengan "
    "pagunya dan tidak boleh lebih kecil dari SPD yang sudah terbit.",
    "no_commitment_on_blocked_line": "Rincian anggaran ini sedang diblokir; tidak boleh ada SPP "
    "baru atau SP2D padanya.",
    "closed_year_accepts_no_spending": "Tahun anggaran ini sudah ditutup; tidak ada lagi SPP, SP2D, "
    "perubahan anggaran, SPD atau penerimaan padanya.",
    "payment_to_registered_vendor_only": "Penyedia ini tidak terdaftar atau tidak aktif; "
    "pembayaran hanya kepada penyedia aktif.",
    "payment_to_account_as_at_sp2d": "Rekening penyedia berubah sejak SP2D terbit; transfer hanya "
    "ke rekening yang tercatat pada SP2D.",
    "repay_only_to_changed_account": "Rekening penyedia masih rekening yang mengembalikan "
    "transfer ini; catat dulu perubahan rekening penyedia, lalu bayar ulang.",
    "disbursement_lifecycle": "Langkah ini tidak berlaku pada status pembayaran saat ini.",
    "skpd_scope": "Data ini milik SKPD lain.",
    # The bendahara's advance (UP/GU/TU, KKPD): Permendagri 77/2020 and 79/2022.
    "advance_within_its_rules": "Tidak sesuai aturan uang persediaan (UP/GU/TU) atau KKPD: "
    "periksa saldo kas, limit kartu, batas TU dan SPJ yang diajukan.",
    "tenant_scope": "Data ini tidak ditemukan.",
    "not_found": "Data ini tidak ditemukan.",
    "budget_must_be_adopted": "APBD tahun ini belum ditetapkan.",
    "unique_identity": "Nomor atau data ini sudah tercatat sebelumnya.",
    "amount_integer_rupiah": "Jumlah harus bilangan bulat rupiah yang lebih dari nol.",
    "permendagri_90_code": "Kode tidak sesuai klasifikasi Permendagri 90/2019.",
    "explicit_limit": "Melebihi batas yang diizinkan.",
    "invalid_input": "Isian tidak valid.",
    "optimistic_concurrency": "Data ini baru saja diubah orang lain; muat ulang lalu coba lagi.",
    "idempotency_key_reused_with_other_command": "Formulir ini sudah dikirim dengan isi lain; "
    "muat ulang halaman lalu isi kembali.",
    "store_unavailable": "Basis data sedang tidak dapat dihubungi; coba lagi sebentar lagi.",
    "read_models_behind": "Data sedang diperbarui; coba lagi sebentar lagi.",
    "csrf": "Formulir kedaluwarsa atau tidak sah; muat ulang halaman lalu kirim lagi.",
    "statement_line_unreadable": "Berkas rekening koran atau laporan gateway tidak dapat dibaca; "
    "tidak ada yang dicatat. Perbaiki baris yang disebut lalu unggah lagi.",
    # Sign-in at the pemda's identity provider (web/oidc.py).
    "idp_unreachable": "Penyedia identitas pemda tidak dapat dihubungi. Coba lagi sebentar lagi; "
    "bila masih gagal, hubungi admin BPKAD.",
    "signin_expired": "Proses masuk sudah kedaluwarsa atau tidak dimulai dari peramban ini. "
    "Silakan masuk lagi.",
    "signin_state_mismatch": "Jawaban penyedia identitas tidak cocok dengan proses masuk di "
    "peramban ini. Silakan masuk lagi.",
    "idp_refused": "Penyedia identitas pemda tidak mengizinkan masuk. Silakan coba lagi.",
    "idp_code_refused": "Penyedia identitas pemda tidak menerima kode masuk ini. Silakan masuk "
    "lagi.",
    "id_token_invalid": "Tanda pengenal dari penyedia identitas pemda tidak sah. Silakan masuk "
    "lagi.",
    "idp_claims_not_kasda": "Akun Anda di penyedia identitas pemda belum diberi peran kasda yang "
    "dikenal, atau pemda, SKPD atau NPWP-nya belum lengkap. Hubungi admin BPKAD.",
    "next_not_local": "Alamat tujuan setelah masuk harus halaman kasda sendiri.",
}
DEFAULT = "Permintaan ditolak."


def explain(rule: str) -> str:
    return RULES.get(rule, DEFAULT)


class Refusal:
    """A refusal shown on a page: the plain sentence, the rule's code and the ledger's detail."""

    __slots__ = ("detail", "rule", "sentence", "status")

    def __init__(self, rule: str, detail: str, status: int) -> None:
        self.rule = rule
        self.detail = detail
        self.status = status
        self.sentence = explain(rule)

    @classmethod
    def of(cls, error: DomainError | ProblemError) -> Refusal:
        if isinstance(error, ProblemError):
            return cls(error.rule, error.detail, error.status)
        from api.problems import status_for

        return cls(error.rule, error.message, status_for(error))
