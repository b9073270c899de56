"""Customer pseudonyms: how services name a customer to each other without the phone number."""

from __future__ import annotations

import hashlib
import hmac


def customer_ref(msisdn: str, key: str) -> str:
    """Return a stable pseudonym of a customer for other services to count people without numbers.

    Keyed (HMAC with ``customer_ref_secret``, the same on every service): a bare hash of a phone
    number is reversed by trying every number.
    """
    return hmac.new(key.encode(), msisdn.encode(), hashlib.sha256).hexdigest()[:32]
