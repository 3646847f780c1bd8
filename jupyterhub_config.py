"""JupyterHub configuration of sadari: load the settings, apply them (see sadari.hub.hubconfig).

Override any setting here or in the environment, e.g. `c.SadariSettings.authenticator = "native"`.
"""

from sadari.hub.hubconfig import apply
from sadari.hub.settings import SadariSettings

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)
apply(SadariSettings(config=c), c)
