//! The kernel-behaviour suite: each behaviour builds its own namespaces,
//! asserts one thing the kernel does, and says which kernel introduced it.
//!
//! Adding a behaviour is one entry in [`REGISTRY`] plus its function. A
//! function returns the [`Verdict`] for the kernel it runs on: `Pass` when
//! the kernel did what we expect, `NotApplicable` when a probe shows the
//! feature is absent (never decided from the version number), and `Fail`
//! (or an `Err`) otherwise.

use crate::report::Verdict;

/// One entry of the suite.
pub struct Behaviour {
    /// Stable id, printed in `LABTEST` lines and the matrix.
    pub id: &'static str,
    /// What is asserted, in one line.
    pub title: &'static str,
    /// The first kernel with the feature this behaviour relies on.
    pub min_kernel: &'static str,
    pub run: fn() -> Result<Verdict, String>,
}

/// Every behaviour, in matrix order.
pub static REGISTRY: &[Behaviour] = &[];

/// Looks a behaviour up by id.
pub fn find(id: &str) -> Option<&'static Behaviour> {
    REGISTRY.iter().find(|b| b.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_protocol_safe() {
        let mut seen = std::collections::HashSet::new();
        for b in REGISTRY {
            assert!(seen.insert(b.id), "duplicate id {}", b.id);
            assert!(
                b.id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "id {} must have no spaces",
                b.id
            );
            assert!(!b.min_kernel.is_empty());
        }
    }
}
