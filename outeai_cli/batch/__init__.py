"""Many texts to many files: inputs and output names (`inputs`), the results file that makes
re-runs resumable (`ledger`), and the run itself (`run`)."""
