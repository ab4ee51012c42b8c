"""The `[opinions]` section of the configuration: how long a responder has to answer, and the working hours outside
which a request is on call (Europe/Paris wall-clock time)."""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field, model_validator


class OpinionsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    answer_within_hours: int = Field(default=24, gt=0)  # no SR within this time: the request is unanswered
    working_day_start: time = time(8, 30)  # a request at this time on a working day is a day request
    working_day_end: time = time(18, 30)  # ...and from this time on, on call

    @model_validator(mode="after")
    def _ordered(self) -> OpinionsConfig:
        if self.working_day_end <= self.working_day_start:
            raise ValueError("working_day_end must be after working_day_start")
        return self
