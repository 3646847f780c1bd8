"""Pure core: curriculum, policy, provisioning decisions, rosters, membership, audit chain. No I/O."""
