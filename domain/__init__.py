"""Pure domain of Cluster Ledger: aggregates, events, rules, money, dates, calendar.

Nothing in this package performs I/O or imports a web or database framework.
"""
