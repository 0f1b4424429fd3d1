"""All scenario traces: 6 domains x (4 benign, 4 injected, 2 slow drift)."""
import scenarios_banking
import scenarios_coding
import scenarios_email
import scenarios_files
import scenarios_sql
import scenarios_tickets

TRACES = (scenarios_email.TRACES + scenarios_banking.TRACES + scenarios_files.TRACES
          + scenarios_sql.TRACES + scenarios_tickets.TRACES + scenarios_coding.TRACES)
assert len({t["id"] for t in TRACES}) == len(TRACES)
