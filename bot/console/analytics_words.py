"""The analytics page's words in Arabic and English (the rest of the console's are in ``i18n``)."""

from __future__ import annotations

from typing import Callable, Dict

from bot.console.i18n import LANGUAGES, STRINGS

__all__ = ["WORDS", "words"]

WORDS: Dict[str, Dict[str, str]] = {
    "analytics_intro": {
        "en": "Anonymous daily counts: no message, no sender and no case reference is ever counted. "
        "Counts from 1 to 9 show as “<10”; “—” hides a count that would let a small one be worked out.",
        "ar": "أعداد يومية مجهولة الهوية: لا تُحسب أي رسالة أو مرسل أو رقم حالة. "
        "تظهر الأعداد من ١ إلى ٩ بصيغة «<10»، وتخفي «—» عددًا قد يكشف عددًا صغيرًا.",
    },
    "range": {"en": "Period", "ar": "الفترة"},
    "range_7d": {"en": "Last 7 days", "ar": "آخر ٧ أيام"},
    "range_30d": {"en": "Last 30 days", "ar": "آخر ٣٠ يومًا"},
    "range_12m": {"en": "Last 12 months", "ar": "آخر ١٢ شهرًا"},
    "range_custom": {"en": "Custom", "ar": "فترة مخصصة"},
    "from": {"en": "From", "ar": "من"},
    "to": {"en": "To", "ar": "إلى"},
    "all": {"en": "All", "ar": "الكل"},
    "show": {"en": "Show", "ar": "عرض"},
    "download_csv": {"en": "Download CSV", "ar": "تنزيل CSV"},
    "showing": {"en": "Showing", "ar": "المعروض"},
    "total": {"en": "Total", "ar": "المجموع"},
    "count": {"en": "Count", "ar": "العدد"},
    "share": {"en": "Share", "ar": "النسبة"},
    "not_filtered": {
        "en": "Not filtered by: ",
        "ar": "غير مصفّى حسب: ",
    },
    "one_dimension": {
        "en": "Disclosures are only ever shown by one thing at a time, and never filtered.",
        "ar": "تُعرض الإفصاحات دائمًا حسب بُعد واحد فقط، ولا تُصفّى.",
    },
    "bad_range": {
        "en": "Choose a start and an end date, at most 400 days apart, the start first.",
        "ar": "اختر تاريخ بداية وتاريخ نهاية، لا يزيد الفرق بينهما عن ٤٠٠ يوم، والبداية أولًا.",
    },
    "table_conversations_over_time": {"en": "Conversations started", "ar": "المحادثات التي بدأت"},
    "table_conversations_by_channel": {"en": "Conversations by channel", "ar": "المحادثات حسب القناة"},
    "table_conversations_by_language": {"en": "Conversations by language", "ar": "المحادثات حسب اللغة"},
    "table_conversations_by_audience": {"en": "Conversations by age group", "ar": "المحادثات حسب الفئة"},
    "table_weekly_users": {
        "en": "Different people per week (estimate)",
        "ar": "عدد الأشخاص المختلفين أسبوعيًا (تقدير)",
    },
    "table_questions_by_topic": {"en": "Questions by topic", "ar": "الأسئلة حسب الموضوع"},
    "table_fallbacks_by_language": {"en": "Messages not understood", "ar": "رسائل لم يفهمها المساعد"},
    "table_disclosures_by_kind": {"en": "Disclosures by kind", "ar": "الإفصاحات حسب النوع"},
    "table_disclosures_by_app": {"en": "Apps named in disclosures", "ar": "التطبيقات المذكورة في الإفصاحات"},
    "table_check_ins": {"en": "Check-ins", "ar": "أسئلة الاطمئنان"},
    "table_cases_by_risk": {"en": "Cases opened by risk", "ar": "الحالات المفتوحة حسب الخطورة"},
    "table_cases_by_origin": {"en": "Cases opened by how they came in", "ar": "الحالات المفتوحة حسب المصدر"},
    "table_cases_claimed": {"en": "Cases claimed by a counselor", "ar": "الحالات التي استلمها مرشد"},
    "table_cases_closed": {"en": "Cases closed by outcome", "ar": "الحالات المغلقة حسب النتيجة"},
    "table_first_response": {
        "en": "Time to a counselor's first message",
        "ar": "الوقت حتى أول رسالة من المرشد",
    },
    "table_campaign_subscriptions": {
        "en": "Campaign subscriptions by audience",
        "ar": "الاشتراكات في الحملة حسب الفئة",
    },
    "table_campaign_stops": {"en": "Campaign stops by how", "ar": "إيقاف رسائل الحملة حسب الطريقة"},
    "table_campaign_messages": {
        "en": "Campaign messages by outcome (filter by channel and language)",
        "ar": "رسائل الحملة حسب النتيجة (صفِّ حسب القناة واللغة)",
    },
    "table_quiz_completions": {"en": "Quizzes finished by language", "ar": "الاختبارات المكتملة حسب اللغة"},
    "dim_state": {"en": "Outcome", "ar": "النتيجة"},
    "dim_reason": {"en": "How", "ar": "الطريقة"},
    "value_sent": {"en": "Sent", "ar": "أُرسلت"},
    "value_delivered": {"en": "Delivered (WhatsApp)", "ar": "وصلت (واتساب)"},
    "value_failed": {"en": "Failed", "ar": "فشلت"},
    "value_skipped": {"en": "Skipped (no window, no template)", "ar": "تُخطّيت (خارج النافذة بلا قالب)"},
    "value_opted_out": {"en": "Stopped before sending", "ar": "أوقفها المستخدم قبل الإرسال"},
    "value_user": {"en": "The user's word (STOP)", "ar": "كلمة المستخدم (إيقاف)"},
    "value_blocked": {"en": "Blocked the bot (Telegram)", "ar": "حظر البوت (تيليجرام)"},
    "value_twilio_stop": {"en": "STOP to Twilio (WhatsApp)", "ar": "STOP إلى Twilio (واتساب)"},
    "dim_day": {"en": "Day", "ar": "اليوم"},
    "dim_month": {"en": "Month", "ar": "الشهر"},
    "dim_week": {"en": "Week starting", "ar": "الأسبوع الذي يبدأ"},
    "dim_topic": {"en": "Topic", "ar": "الموضوع"},
    "dim_kind": {"en": "Kind", "ar": "النوع"},
    "dim_app": {"en": "App or platform", "ar": "التطبيق أو المنصة"},
    "dim_stage": {"en": "Stage", "ar": "المرحلة"},
    "dim_origin": {"en": "How it came in", "ar": "المصدر"},
    "dim_measure": {"en": "Measure", "ar": "المقياس"},
    "value_unknown": {"en": "Not known", "ar": "غير معروف"},
    "value_other": {"en": "Other", "ar": "أخرى"},
    "value_ar": {"en": "Arabic", "ar": "العربية"},
    "value_en": {"en": "English", "ar": "الإنجليزية"},
    "value_child": {"en": "Child", "ar": "طفل"},
    "value_teen": {"en": "Teen", "ar": "مراهق"},
    "value_parent": {"en": "Parent", "ar": "ولي أمر"},
    "value_educator": {"en": "Educator", "ar": "معلم"},
    "value_rest": {"en": "REST (testing)", "ar": "REST (للاختبار)"},
    "value_web": {"en": "Web widget", "ar": "نافذة الموقع"},
    "value_telegram": {"en": "Telegram", "ar": "تيليجرام"},
    "value_whatsapp": {"en": "WhatsApp", "ar": "واتساب"},
    "value_self_harm": {"en": "Self-harm", "ar": "إيذاء النفس"},
    "value_abuse": {"en": "Abuse", "ar": "إساءة"},
    "value_threat": {"en": "Threat", "ar": "تهديد"},
    "value_coercion": {"en": "Coercion", "ar": "إكراه"},
    "value_blackmail": {"en": "Blackmail", "ar": "ابتزاز"},
    "value_images": {"en": "Images", "ar": "صور"},
    "value_meeting": {"en": "Meeting in person", "ar": "لقاء شخصي"},
    "value_unspecified": {"en": "Unspecified", "ar": "غير محدد"},
    "value_asked": {"en": "Asked", "ar": "طُرح السؤال"},
    "value_confirmed": {"en": "Confirmed", "ar": "تم التأكيد"},
    "value_declined": {"en": "Nothing happening", "ar": "لا يوجد شيء"},
    "value_answered": {"en": "Cases answered", "ar": "الحالات التي رُدّ عليها"},
    "value_urgent_answered": {"en": "Urgent cases answered", "ar": "الحالات العاجلة التي رُدّ عليها"},
    "fact_median": {"en": "Median (estimated)", "ar": "الوسيط (تقديري)"},
    "fact_p90": {"en": "90th percentile (estimated)", "ar": "المئين التسعون (تقديري)"},
    "fact_urgent_within_5_min": {"en": "Urgent answered within 5 minutes", "ar": "العاجلة خلال ٥ دقائق"},
    "fact_urgent_within_1_hour": {"en": "Urgent answered within 1 hour", "ar": "العاجلة خلال ساعة"},
    "facts_hidden": {
        "en": "“—”: fewer than 10 cases, so nothing is shown.",
        "ar": "«—»: أقل من ١٠ حالات، فلا يُعرض شيء.",
    },
}


def words(language: str) -> Callable[[str], str]:
    """``t(key)`` over the analytics words, then the console's."""
    lang = language if language in LANGUAGES else "ar"

    def t(key: str) -> str:
        return (WORDS.get(key) or STRINGS[key])[lang]

    return t
