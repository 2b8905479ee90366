"""The confidential report: the form, its questions, submitting or cancelling it, a report's status,
and "delete my data". One module per concern:

- ``answers``: the form's slots, the answers so far and their risk, leaving the form;
- ``validation``: ``ValidateReportForm``, which only turns answers into slot values;
- ``asking``: starting a report, the contact question (urgent first when someone is in danger now),
  and the summary;
- ``submission``: submitting (the user is told only after the case is committed) and cancelling;
- ``status``: what happened to a report this conversation filed;
- ``forget``: "delete my data".

The form (``report_form`` in domain.yml) asks who is reporting, what kind of harm, where, when,
whether anyone is in danger now, and whether a counselor may make contact (and, only with consent,
on which phone number); then it shows a summary with submit / change / cancel. Every question can
be skipped. Cases are written through ``actions.cases`` and ``bot.cases``.
"""

from actions.cases import use_case_desk
from actions.report.answers import (
    FORM_SLOTS,
    REPORT_FORM,
    answers_from_disclosure,
    report_answers,
    report_risk,
    reset_report,
)
from actions.report.asking import ActionAskReportConfirm, ActionAskReportContact, ActionStartReport
from actions.report.forget import ActionDeleteMyData
from actions.report.status import ActionReportStatus
from actions.report.submission import ActionCancelReport, ActionSubmitReport
from actions.report.validation import ValidateReportForm

__all__ = [
    "ValidateReportForm",
    "ActionStartReport",
    "ActionAskReportContact",
    "ActionAskReportConfirm",
    "ActionSubmitReport",
    "ActionCancelReport",
    "ActionReportStatus",
    "ActionDeleteMyData",
    "use_case_desk",
    "report_answers",
    "report_risk",
    "answers_from_disclosure",
    "reset_report",
    "FORM_SLOTS",
    "REPORT_FORM",
]
