"""Settings of the people's notebook servers on the embedded default (a folder on their
JUPYTER_CONFIG_PATH): nbgrader's formgrader and course tools off, no search for language servers
at each start (none is installed; the search ran `npm prefix -g`), JupyterLab's news off, Korean as
the default language (`lab-overrides.json`, installed into the environment's JupyterLab settings by
`make install`; each person can switch language in JupyterLab's Settings menu)."""
