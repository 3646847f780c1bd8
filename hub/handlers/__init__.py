"""Tornado handlers of the sadari service; `default_handlers` lists them (paths under the prefix)."""

from .analytics import analytics_handlers
from .api import (
    AuditHandler,
    CurriculumHandler,
    HealthHandler,
    MeHandler,
    NotFoundHandler,
    RosterHandler,
    StageHandler,
    SyncHandler,
    TraineeHandler,
    TraineesHandler,
)
from .assessments import assessment_handlers
from .board import board_handlers
from .exchange import exchange_handlers
from .grading import grading_handlers
from .pages import (
    AdminPage,
    HomeHandler,
    InstructorPage,
    JupyterHubStatic,
    OAuthCallback,
    TraineeFeedback,
    TraineePage,
)
from .roster import roster_handlers
from .selection import selection_handlers
from .selection_pages import selection_page_handlers
from .trainees import trainee_handlers

USER = r"([a-z0-9][a-z0-9._-]{0,63})"

default_handlers = [
    ("/?", HomeHandler),
    ("/trainee", TraineePage),
    (r"/trainee/feedback/(\d{1,12})/([^/]{1,200}\.html)", TraineeFeedback),
    ("/instructor", InstructorPage),
    ("/admin", AdminPage),
    ("/oauth_callback", OAuthCallback),
    *analytics_handlers,  # before the board's /assessments/COHORT/AID
    *board_handlers,
    *grading_handlers,
    ("/jupyterhub/static/(.*)", JupyterHubStatic),
    ("/api/v1/health", HealthHandler),
    ("/api/v1/me", MeHandler),
    ("/api/v1/curriculum", CurriculumHandler),
    ("/api/v1/trainees", TraineesHandler),
    (f"/api/v1/trainees/{USER}", TraineeHandler),
    (f"/api/v1/trainees/{USER}/stage", StageHandler),
    ("/api/v1/roster", RosterHandler),
    ("/api/v1/sync", SyncHandler),
    ("/api/v1/audit", AuditHandler),
    *exchange_handlers,
    *assessment_handlers,
    *selection_handlers,
    *selection_page_handlers,
    *roster_handlers,
    *trainee_handlers,
    ("/api/v1/.*", NotFoundHandler),
]
