"""Routes of the campaigns service under /campaigns/v1."""

from fastapi import APIRouter

from careloop_common.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/campaigns/v1", tags=["campaigns"], responses=PROBLEM_RESPONSES)
