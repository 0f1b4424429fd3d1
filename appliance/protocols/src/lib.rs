//! Wire formats of agent traffic parsed into observations and actions (no I/O). Filled by the action-mediation work.
