"""sadari.hub: the LMS service, spawner policy, hub configuration and CLI."""
