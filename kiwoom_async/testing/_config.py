"""Every knob of the simulator in one place. All fields may be changed while it runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class SimConfig:
    # --- accounts and tokens ---
    token_lifetime: float = 86_400.0
    """Seconds a token stays valid; ``expires_dt`` is derived from it (KST)."""
    reissue_invalidates_old: bool = False
    """Whether issuing a new token for an app key kills the previous one (uncertain upstream)."""
    token_error_style: str = "rc3"
    """How a bad token is answered: "rc3" (HTTP 200, return_code 3, ``[8005:...]`` embedded),
    "top" (HTTP 200, return_code 8005), "http401" (HTTP 401 with a JSON body)."""

    validate_requests: bool = True
    """Refuse a request missing a required field (1511) or naming a stock code of a shape no
    exchange lists (1902), as the server does; off answers whatever is asked."""

    strict_credentials: bool = False
    """Accept only app keys registered with ``Simulator.add_account``; otherwise the first token
    request for an app key registers its secret key."""

    # --- rate limiting (sliding one-second window per app key; None: off) ---
    rate_limit: float | None = None
    rate_limit_per_api_id: float | None = None
    rate_limit_style: str = "rc5"
    """"rc5" (HTTP 200, return_code 5, ``[1700:...]``) or "http429" (same body, HTTP 429)."""

    # --- pagination ---
    pages: int = 3
    """How many pages a paginating TR serves before ``cont-yn: N``."""

    # --- faults (probabilities are per request, drawn from a seeded RNG) ---
    seed: int = 0
    latency: float = 0.0
    http500_rate: float = 0.0
    malformed_rate: float = 0.0
    drop_after_order: bool = False
    """Record an order, then drop the connection without answering."""

    # --- market / orders ---
    mock: bool = True
    """Mock rules: orders accept dmst_stex_tp KRX only."""
    fill_orders: bool = True
    """Market orders fill at once; limit orders fill when marketable."""
    partial_fills: bool = False
    """Marketable orders fill in two steps (about half, then the rest), each one a "filled"
    notification, so clients see partial executions."""
    recon_page_size: int = 100
    """Rows per page of the order reconciliation TRs (ka10075, ka10076, kt00007, kt50031,
    kt50075)."""

    # --- realtime (WebSocket on the same port, path /api/dostk/websocket) ---
    tick_interval: float = 0.05
    """Seconds between 0B/0D ticks per registered item; 0 or less: no ticks."""
    ping_interval: float = 10.0
    """Seconds between server PINGs; 0 or less: no PINGs."""
    ping_misses_allowed: int = 5
    """Unanswered PINGs before SYSTEM R10002 and a close."""
    system_frames_around_login: bool = False
    """Send SYSTEM frames right before and after the LOGIN reply, then a PING, as prod does."""
    login_refuse_code: int | None = None
    """Refuse every LOGIN with this code: four digits from the official table (8005...) or six
    as some servers send (805004); None accepts valid tokens. Worded per
    ``login_refuse_style``."""
    login_refuse_style: str = "rc1"
    """How a refused LOGIN (this knob's code, or 8005 for an unknown token) is answered:
    "rc1" (return_code 1, ``[ERROR] 인증에 실패했습니다. CODE=8005, MSG=...``) or "top"
    (return_code the code itself, ``[CODE=805004, MESSAGE=...]``). A six-digit code takes the
    wording of its first four digits (805004: 8050)."""
    system_close_after_login: bool = False
    """Answer every LOGIN, whatever its token and ``login_refuse_code``, with SYSTEM
    ``system_close_code`` and a close instead of a LOGIN answer (SYSTEM R00000 first with
    ``system_frames_around_login``, as prod sends it ahead of the answer)."""
    system_close_code: str = "R10004"
    """The SYSTEM code of ``system_close_after_login``. R10004 (접속허용요청이 들어오지
    않았습니다) is the fact base's only close notice that is neither a takeover (R10001,
    which clients treat as final) nor a missed heartbeat (R10002)."""
    drop_every: float | None = None
    """Close every WebSocket connection after this many seconds."""
    drop_after_frames: int | None = None
    """Close a WebSocket connection after sending this many frames."""
    ws_malformed_rate: float = 0.0
    """Chance that a REAL frame goes out truncated (invalid JSON) instead; seeded by ``seed``."""
    reg_refuse_types: frozenset[str] = frozenset()
    """Answer a REG naming any of these realtime types (``"*"``: every REG) with return_code
    1 and nothing registered, the frame's other types included. REMOVE is not refused."""
    blast_frames: int = 0
    """After a REG, send this many REAL 0B/0D frames as fast as possible (benchmarks)."""
    single_session_per_key: bool = True
    """A second LOGIN with the same app key closes the first with SYSTEM R10001."""
    condition_push_interval: float = 0.1
    """Seconds between REAL 02 pushes of each realtime condition search (CNSRREQ search_type 1);
    0 or less: no pushes."""
    condition_list_required: bool = True
    """Answer CNSRREQ with a non-zero return_code until the connection has sent CNSRLST."""

    # --- exchange rules and the fill clock ---
    check_prices: bool = True
    """Refuse stock order prices the exchange refuses: off the tick grid (kiwoom_async.krx) or
    outside the daily band (±30% of the previous close), 1 KRW included."""
    check_holdings: bool = True
    """Refuse stock sells of more shares than held and not already offered by open sells."""
    holdings: Mapping[str, int] = field(default_factory=dict[str, int])
    """Shares every account starts with (stock code -> quantity), bought at the previous
    close."""
    fill_interval: float = 0.0
    """Seconds between rounds in which resting limit orders trade at their price (a random
    part of what is left); 0 or less: they fill only on market ticks that cross them."""
    fill_chance: float = 0.5
    """The chance that a resting order trades in a round of the fill clock."""
    cash: int | None = 1_000_000_000
    """KRW every account starts with. A buy must fit in what is left after the open buys
    (market orders count at the upper limit); fills move cash. None: no cash check."""
    market_hours: bool = False
    """Refuse orders while KRX is closed (kiwoom_async.krx_calendar: weekends, holidays,
    outside every session window) with ``[2000](RC4058:모의투자 장종료)``."""
    clock: Callable[[], datetime] | None = None
    """The simulator's KST "now" for ``market_hours`` (None: the real clock), so tests can
    pin a moment."""
