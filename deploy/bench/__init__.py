"""`safeguard bench`: the end-to-end benchmark of the local stack and its raw baselines."""
