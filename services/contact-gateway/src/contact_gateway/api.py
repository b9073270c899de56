"""Routes of the contact-gateway service under /contact/v1."""

from fastapi import APIRouter

from careloop_common.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/contact/v1", tags=["contact-gateway"], responses=PROBLEM_RESPONSES)
