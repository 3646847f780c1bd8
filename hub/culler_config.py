"""jupyterhub-idle-culler's config file (`--config=`): sadari's arbiter (hub/culler.py)."""

from sadari.hub.culler import arbiter

c = get_config()  # noqa: F821 (provided by the culler when it loads this file)
c.IdleCuller.cull_arbiter_hook = arbiter
