"""Read side: views of the event log (status board, funding ledger, deadlines) and their runner."""
