"""The business the bot speaks for: company, programs, advisors, opening hours, qualification, FAQ."""

from callbot.business.profile import (
    DEMO_PROFILE_PATH,
    Advisor,
    BusinessProfile,
    FaqEntry,
    Price,
    ProfileError,
    Program,
    Qualification,
    QualificationQuestion,
    QuestionKind,
    QuestionOption,
    TimeRange,
    Weekday,
    load_profile,
)

__all__ = [
    "DEMO_PROFILE_PATH",
    "Advisor",
    "BusinessProfile",
    "FaqEntry",
    "Price",
    "ProfileError",
    "Program",
    "Qualification",
    "QualificationQuestion",
    "QuestionKind",
    "QuestionOption",
    "TimeRange",
    "Weekday",
    "load_profile",
]
