//! Receipts on disk: the signing keys, the LMDB store, and the single writer that chains, signs
//! and group-commits every receipt.

pub mod archive;
pub mod audit;
pub mod journal;
pub mod keys;
pub mod reader;
pub mod store;
pub mod writer;

pub use keys::{KeyError, KeyRing};
pub use reader::ReceiptReader;
pub use store::{Head, ReceiptStore, StoreError, StoreUsage, WriteRefusal};
pub use writer::{Durability, ReceiptDraft, ReceiptLog, WriterStats};
