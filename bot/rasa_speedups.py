"""One measured fix to Rasa 3.6's hot path, installed by the Rasa server when it loads our channels.

Rasa checks every action server response with ``jsonschema.validate(result, schema)``, and
``validate`` first checks the *schema itself* against the JSON Schema meta-schema, on every call.
Under load (``bench/``, 30 users) that was 47% of the Rasa server's CPU, profiled with py-spy: more
than understanding the message. The schema is a constant, so ``install()`` checks it once, builds
its validator once, and validates each response with it: the same checks, the same
``ValidationError`` (with Rasa's hint appended) for a malformed response, without the repeated work.
"""

from __future__ import annotations

from typing import Any, Dict

__all__ = ["install"]

_MARK = "_amaan_cached_validator"


def install() -> None:
    """Replace ``RemoteAction._validate_action_result`` with a cached-validator version (idempotent)."""
    from jsonschema import ValidationError, exceptions, validators
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    if getattr(RemoteAction._validate_action_result, _MARK, False):
        return
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)  # what ``jsonschema.validate`` did on every call, now once
    validator = cls(schema)

    def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
        error = exceptions.best_match(validator.iter_errors(result))
        if error is None:
            return True
        assert isinstance(error, ValidationError)
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the"
            f" Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    setattr(_validate_action_result, _MARK, True)
    RemoteAction._validate_action_result = _validate_action_result
