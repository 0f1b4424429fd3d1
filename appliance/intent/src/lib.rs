//! Intent signals: the local embedding model and drift scoring. Filled by the context-and-intent work.
