"""The console's words in Arabic and English. Templates call ``t(key)``; a missing key is an error
in the tests (``test_console_app`` checks both languages have every key)."""

from __future__ import annotations

from typing import Callable, Dict

__all__ = ["STRINGS", "LANGUAGES", "translator", "direction", "label"]

LANGUAGES = ("ar", "en")

STRINGS: Dict[str, Dict[str, str]] = {
    "skip_to_content": {"en": "Skip to the content", "ar": "انتقل إلى المحتوى"},
    "title": {"en": "Amaan counselor console", "ar": "لوحة المرشدين – أمان"},
    "sign_in": {"en": "Sign in", "ar": "تسجيل الدخول"},
    "sign_out": {"en": "Sign out", "ar": "تسجيل الخروج"},
    "username": {"en": "Name", "ar": "اسم المستخدم"},
    "password": {"en": "Password", "ar": "كلمة المرور"},
    "bad_login": {"en": "The name or the password is wrong.", "ar": "اسم المستخدم أو كلمة المرور غير صحيحة."},
    "limited": {
        "en": "Too many attempts. Wait 15 minutes, or ask a supervisor.",
        "ar": "محاولات كثيرة. انتظر ١٥ دقيقة أو اطلب المساعدة من المشرف.",
    },
    "expired": {"en": "Your session ended. Please sign in again.", "ar": "انتهت جلستك. يرجى تسجيل الدخول مجددًا."},
    "language_switch": {"en": "العربية", "ar": "English"},
    "queue": {"en": "Queue", "ar": "قائمة الحالات"},
    "audit": {"en": "Audit log", "ar": "سجل المراجعة"},
    "analytics": {"en": "Analytics", "ar": "الإحصاءات"},
    "signed_in_as": {"en": "Signed in as", "ar": "مسجل الدخول باسم"},
    "reference": {"en": "Reference", "ar": "الرقم المرجعي"},
    "risk": {"en": "Risk", "ar": "الخطورة"},
    "status": {"en": "Status", "ar": "الحالة"},
    "channel": {"en": "Channel", "ar": "القناة"},
    "language": {"en": "Language", "ar": "اللغة"},
    "audience": {"en": "Age group", "ar": "الفئة"},
    "waiting_since": {"en": "Waiting since", "ar": "بانتظار منذ"},
    "assignee": {"en": "Counselor", "ar": "المرشد"},
    "open": {"en": "Open", "ar": "فتح"},
    "empty_queue": {"en": "No open cases.", "ar": "لا توجد حالات مفتوحة."},
    "live": {"en": "Updates live", "ar": "تحديث مباشر"},
    "offline": {"en": "Connection lost; retrying…", "ar": "انقطع الاتصال؛ جارٍ إعادة المحاولة…"},
    "risk_urgent": {"en": "Urgent", "ar": "عاجل"},
    "risk_high": {"en": "High", "ar": "مرتفع"},
    "risk_normal": {"en": "Normal", "ar": "عادي"},
    "opened_by": {"en": "Opened by", "ar": "سبب الفتح"},
    "opened_by_disclosure": {"en": "Clear disclosure", "ar": "إفصاح واضح"},
    "opened_by_check_in": {"en": "Confirmed check-in", "ar": "تأكيد بعد سؤال الاطمئنان"},
    "opened_by_report": {"en": "Report form", "ar": "نموذج البلاغ"},
    "opened_by_counselor_request": {"en": "Asked for a person", "ar": "طلب التحدث مع شخص"},
    "opened_by_urgent_answer": {"en": "In danger now (report)", "ar": "خطر الآن (بلاغ)"},
    "status_received": {"en": "Waiting", "ar": "بالانتظار"},
    "status_with_counselor": {"en": "With a counselor", "ar": "مع مرشد"},
    "status_closed": {"en": "Closed", "ar": "مغلقة"},
    "held": {"en": "Live chat", "ar": "محادثة مباشرة"},
    "unassigned": {"en": "—", "ar": "—"},
    "report": {"en": "Report", "ar": "البلاغ"},
    "conversation": {"en": "Conversation", "ar": "المحادثة"},
    "no_messages": {"en": "No messages yet.", "ar": "لا توجد رسائل بعد."},
    "claim": {"en": "Claim and join the chat", "ar": "استلام الحالة والانضمام للمحادثة"},
    "send": {"en": "Send to the user", "ar": "إرسال للمستخدم"},
    "message": {"en": "Message", "ar": "الرسالة"},
    "note": {"en": "Private note (never sent)", "ar": "ملاحظة خاصة (لا تُرسل أبدًا)"},
    "add_note": {"en": "Save note", "ar": "حفظ الملاحظة"},
    "canned": {"en": "Canned responses", "ar": "ردود جاهزة"},
    "use": {"en": "Use", "ar": "استخدم"},
    "hand_back": {"en": "Hand back to the assistant", "ar": "إعادة المحادثة إلى المساعد الآلي"},
    "close": {"en": "Close the case", "ar": "إغلاق الحالة"},
    "outcome": {"en": "Outcome", "ar": "النتيجة"},
    "outcome_advised": {"en": "Advised", "ar": "تم تقديم النصح"},
    "outcome_referred_authorities": {"en": "Referred to the authorities", "ar": "أحيلت إلى الجهات المختصة"},
    "outcome_referred_helpline": {"en": "Referred to 116111 / 1919", "ar": "أحيلت إلى ١١٦١١١ / ١٩١٩"},
    "outcome_no_contact": {"en": "No contact", "ar": "لم يتم التواصل"},
    "outcome_other": {"en": "Other", "ar": "أخرى"},
    "reassign": {"en": "Reassign", "ar": "إعادة التعيين"},
    "reassign_to": {"en": "Reassign to", "ar": "تعيين إلى"},
    "failed": {
        "en": "That did not work. Reload the page and try again.",
        "ar": "لم تنجح العملية. أعد تحميل الصفحة وحاول مجددًا.",
    },
    "not_delivered": {"en": "not delivered", "ar": "لم تُسلَّم"},
    "user_not_told": {
        "en": "The user could not be told (not delivered).",
        "ar": "تعذر إبلاغ المستخدم (لم تُسلَّم).",
    },
    "system_joined": {"en": "joined the chat; the user was told", "ar": "انضم إلى المحادثة، وأُبلغ المستخدم"},
    "system_left": {"en": "handed the chat back to the assistant", "ar": "أعاد المحادثة إلى المساعد الآلي"},
    "system_closed": {"en": "closed the case", "ar": "أغلق الحالة"},
    "system_reassigned": {"en": "reassigned the case to", "ar": "أعاد تعيين الحالة إلى"},
    "answer_reporter": {"en": "Who is reporting", "ar": "المُبلِّغ"},
    "answer_harm": {"en": "Kind of harm", "ar": "نوع الأذى"},
    "answer_harm_text": {"en": "In their words", "ar": "بكلماته"},
    "answer_where": {"en": "Where", "ar": "أين"},
    "answer_when": {"en": "When", "ar": "متى"},
    "answer_danger_now": {"en": "Anyone in danger now", "ar": "هل أحد في خطر الآن"},
    "answer_contact": {"en": "Contact", "ar": "التواصل"},
    "answer_phone": {"en": "Phone (consented)", "ar": "الهاتف (بموافقة)"},
    "origin_report": {"en": "report form", "ar": "نموذج البلاغ"},
    "origin_disclosure": {"en": "disclosure in the chat", "ar": "إفصاح في المحادثة"},
    "origin_counselor_request": {"en": "asked for a person", "ar": "طلب التحدث مع شخص"},
    "origin_urgent_answer": {"en": "said someone is in danger now", "ar": "أفاد بوجود خطر الآن"},
    "disclosures": {"en": "Disclosures", "ar": "الإفصاحات"},
    "their_words": {"en": "Their words", "ar": "كلماته"},
    "origins": {"en": "How it came in", "ar": "مصدر الحالة"},
    "author_user": {"en": "User", "ar": "المستخدم"},
    "author_counselor": {"en": "Counselor", "ar": "المرشد"},
    "author_note": {"en": "Note", "ar": "ملاحظة"},
    "author_system": {"en": "System", "ar": "النظام"},
    "closed_case": {"en": "This case is closed.", "ar": "هذه الحالة مغلقة."},
    "not_yours": {
        "en": "Claim the case to talk with the user.",
        "ar": "استلم الحالة للتحدث مع المستخدم.",
    },
    "when": {"en": "When", "ar": "الوقت"},
    "who": {"en": "Who", "ar": "من"},
    "action": {"en": "Action", "ar": "الإجراء"},
    "detail": {"en": "Detail", "ar": "التفاصيل"},
    "filter": {"en": "Filter", "ar": "تصفية"},
    "unlinked": {
        "en": "The user asked to be forgotten: this case can no longer be answered.",
        "ar": "طلب المستخدم حذف بياناته: لم يعد بالإمكان الرد على هذه الحالة.",
    },
    "back_to_queue": {"en": "Back to the queue", "ar": "العودة إلى القائمة"},
    "forbidden": {"en": "This case is assigned to another counselor.", "ar": "هذه الحالة مسندة إلى مرشد آخر."},
}


def label(t: Callable[[str], str], prefix: str, key: str) -> str:
    """``t(prefix + key)`` if there are words for it, else ``key`` as stored."""
    return t(prefix + key) if prefix + key in STRINGS else key


def direction(language: str) -> str:
    return "rtl" if language == "ar" else "ltr"


def translator(language: str) -> Callable[[str], str]:
    """``t(key)`` for templates, in ``language``."""
    lang = language if language in LANGUAGES else "ar"

    def t(key: str) -> str:
        return STRINGS[key][lang]

    return t
