"""What is redacted in everything xai-bench records: the rules live in :mod:`xai_bench.secrets`
(top level, so that configuration loading can refuse credentials with the same rules)."""

from __future__ import annotations

from ..secrets import REDACTED, SECRET_VALUE, key_is_secret, redact_text

__all__ = ["REDACTED", "SECRET_VALUE", "key_is_secret", "redact_text"]
