# ruff: noqa: RUF001 - Chinese messages, with full-width punctuation
"""The pages' languages and message catalogue: Traditional Chinese, Simplified Chinese, English.

Each message is one row (English, 繁體, 简体). A key missing from the catalogue shows as itself, so a
forgotten message is visible rather than an error; ``services/web/tests`` checks every row is whole.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES: dict[str, str] = {"zh-Hant": "繁體中文", "zh-Hans": "简体中文", "en": "English"}
HTML_LANG = {"zh-Hant": "zh-Hant-HK", "zh-Hans": "zh-Hans-CN", "en": "en"}
_COLUMN = {"en": 0, "zh-Hant": 1, "zh-Hans": 2}

Translator = Callable[..., str]

MESSAGES: dict[str, tuple[str, str, str]] = {
    # layout
    "careloop": ("careloop", "careloop 客戶關懷", "careloop 客户关怀"),
    "skip": ("Skip to content", "跳到內容", "跳到内容"),
    "language": ("Language", "語言", "语言"),
    "portal": ("Customer portal", "客戶服務", "客户服务"),
    "desk": ("Call centre", "客服台", "客服台"),
    "engineering": ("Engineering", "網絡工程", "网络工程"),
    "campaigns": ("Campaigns", "關懷活動", "关怀活动"),
    "dashboard": ("Supervisor", "主管儀表板", "主管仪表板"),
    "staff_login": ("Staff login", "員工登入", "员工登录"),
    "signed_in_as": ("Signed in as {user}", "已登入：{user}", "已登录：{user}"),
    "logout": ("Log out", "登出", "退出登录"),
    "login": ("Log in", "登入", "登录"),
    "username": ("User name", "用戶名稱", "用户名"),
    "password": ("Password", "密碼", "密码"),
    "login_failed": (
        "That user name and password did not match.",
        "用戶名稱或密碼不正確。",
        "用户名或密码不正确。",
    ),
    "login_needed": (
        "Please log in to see this page.",
        "請先登入以查看此頁。",
        "请先登录以查看此页。",
    ),
    "session_ended": (
        "Your session has ended; please log in again.",
        "登入已逾時，請重新登入。",
        "登录已过期，请重新登录。",
    ),
    "forbidden_title": ("Not for your role", "你的職級無權查看", "你的角色无权查看"),
    "forbidden": (
        "Your account ({roles}) may not use this page.",
        "你的帳戶（{roles}）不能使用此頁。",
        "你的账户（{roles}）不能使用此页。",
    ),
    "not_found_title": ("Not found", "找不到", "找不到"),
    "not_found": ("There is no such page.", "沒有這個頁面。", "没有这个页面。"),
    "error_title": ("Something went wrong", "出現問題", "出现问题"),
    "unreachable": (
        "The platform did not answer. Please try again in a moment.",
        "系統暫時未能回應，請稍後再試。",
        "系统暂时未能响应，请稍后再试。",
    ),
    "rate_limited": (
        "Too many requests just now. Please wait a minute and try again.",
        "請求太多，請稍候一分鐘再試。",
        "请求太多，请稍候一分钟再试。",
    ),
    "csrf": (
        "This form has expired. Please reload the page and try again.",
        "表格已失效，請重新載入頁面再試。",
        "表单已失效，请重新加载页面再试。",
    ),
    "back_home": ("Back to the start", "返回首頁", "返回首页"),
    "try_again": ("Try again", "再試一次", "再试一次"),
    "nothing_here": ("Nothing here yet.", "暫時沒有資料。", "暂时没有数据。"),
    "fix_fields": (
        "Please correct the fields marked below.",
        "請修正以下標示的欄位。",
        "请修正以下标示的字段。",
    ),
    "required": ("required", "必填", "必填"),
    "optional": ("optional", "選填", "选填"),
    "save": ("Save", "儲存", "保存"),
    "submit": ("Submit", "提交", "提交"),
    "search": ("Search", "搜尋", "搜索"),
    "refresh": ("Refresh", "重新整理", "刷新"),
    "none": ("none", "沒有", "没有"),
    "yes": ("yes", "是", "是"),
    "no": ("no", "否", "否"),
    "footer": (
        "careloop · open customer care · pages served locally, no trackers",
        "careloop · 開放客戶關懷平台 · 頁面全部本地提供，沒有追蹤",
        "careloop · 开放客户关怀平台 · 页面全部本地提供，没有追踪",
    ),
}


def normalise(language: str | None) -> str | None:
    """Map a language tag (``zh-HK``, ``zh_TW``, ``zh-CN``, ``en-GB`` …) to one we speak, else None."""
    if not language:
        return None
    tag = language.strip().replace("_", "-").lower()
    if tag in ("zh-hant", "zh-hk", "zh-tw", "zh-mo") or tag.startswith(("zh-hant", "yue")):
        return "zh-Hant"
    if tag in ("zh", "zh-hans", "zh-cn", "zh-sg") or tag.startswith("zh-hans"):
        return "zh-Hans"
    if tag.startswith("zh-"):
        return "zh-Hant"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """Pick the first language we speak from an Accept-Language header, by its q order."""
    if not header:
        return None
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        weighted.append((-weight, index, tag))
    for _, _, tag in sorted(weighted):
        found = normalise(tag)
        if found:
            return found
    return None


def translator(language: str) -> Translator:
    """Return ``t(key, **values)`` for a language; unknown keys show as themselves."""
    column = _COLUMN.get(language, 0)

    def t(key: str, **values: object) -> str:
        row = MESSAGES.get(key)
        text = row[column] if row else key
        return text.format(**values) if values else text

    return t
