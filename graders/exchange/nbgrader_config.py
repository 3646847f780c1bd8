"""nbgrader configuration that plugs the sadari HTTP exchange into nbgrader's ExchangeFactory.

Put this folder on JUPYTER_CONFIG_PATH and `nbgrader list/fetch_assignment/submit/fetch_feedback/
release_assignment/collect/release_feedback`, the JupyterLab Assignment List and the formgrader
use the sadari service instead of a shared exchange folder. The service URL and token come from
$SADARI_SERVICE_URL and $JUPYTERHUB_API_TOKEN (see `SadariExchange`). The times the exchange
reports (the Assignment List's submissions, feedback folder names) are written in the cohort's
time zone, $SADARI_TIMEZONE, which the spawner sets from the curriculum; timestamp.txt stays in
a form nbgrader reads back as the same instant (see `readable_timestamp`).
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

_PKG = "sadari.graders.exchange"
c.ExchangeFactory.exchange = f"{_PKG}.SadariExchange"
c.ExchangeFactory.list = f"{_PKG}.SadariExchangeList"
c.ExchangeFactory.fetch_assignment = f"{_PKG}.SadariExchangeFetchAssignment"
c.ExchangeFactory.submit = f"{_PKG}.SadariExchangeSubmit"
c.ExchangeFactory.fetch_feedback = f"{_PKG}.SadariExchangeFetchFeedback"
c.ExchangeFactory.release_assignment = f"{_PKG}.SadariExchangeReleaseAssignment"
c.ExchangeFactory.release_feedback = f"{_PKG}.SadariExchangeReleaseFeedback"
c.ExchangeFactory.collect = f"{_PKG}.SadariExchangeCollect"

_zone = os.environ.get("SADARI_TIMEZONE")
if _zone:
    c.Exchange.timezone = _zone
