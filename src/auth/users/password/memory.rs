//! The memory an argon2 hash works in, kept by a hash worker between hashes and given back
//! to the kernel when the worker goes idle.
//!
//! # Why not let argon2 allocate
//!
//! `Argon2::hash_password_into` allocates `m_cost` KiB (19 MiB with the default parameters)
//! for every hash and frees it afterwards. glibc serves an allocation that large with
//! `mmap` and unmaps it on free — but freeing an mmapped chunk raises glibc's *dynamic mmap
//! threshold* to that chunk's size (up to 32 MiB on 64-bit), so every later 19 MiB
//! allocation comes from a malloc arena instead. Arena memory goes back to the kernel only
//! when it lies at the top of its heap, and each thread that hashed has an arena of its own:
//! after a burst of 1,000 concurrent failed logins the gateway's resident memory grew from
//! 29 MiB to 2.3 GiB and stayed there.
//!
//! # What this does instead
//!
//! - A [`HashMemory`] is owned by one hash worker (`workers.rs`) and reused for every hash
//!   that worker runs while it is busy: a flood costs at most `workers × m_cost` of argon2
//!   memory, however many logins it holds.
//! - Its blocks are one `Vec` whose *capacity* is at least [`ALWAYS_MAPPED_BYTES`], above
//!   glibc's largest dynamic threshold. Such an allocation is always served by `mmap`, its
//!   free is always a `munmap`, and freeing it never moves the threshold, so
//!   [`HashMemory::release`] really returns the memory. Only the `m_cost` KiB that argon2
//!   uses are ever written, so the rest of the reservation is address space, not resident
//!   memory. (Other allocators — musl, jemalloc, mimalloc — also map allocations this large
//!   directly; the rule costs nothing there.)
//! - The dummy hash made at load uses a `HashMemory` too. One 19 MiB `free` at startup would
//!   raise glibc's mmap threshold to 19 MiB and its trim threshold to 38 MiB for the rest of
//!   the process, and the heap would then keep tens of MiB of freed connection memory after
//!   every burst. (`gateway hash-password` lets argon2 allocate: that process exits.)
//! - Reuse is safe: argon2 writes every block of its working area in its first pass before
//!   it reads it, so what a previous hash left behind never influences the next one.
//!
//! No unsafe code: argon2's `hash_password_into_with_memory` takes the blocks as a slice.

use argon2::Block;

/// The smallest reservation for argon2 blocks, in bytes: 1 MiB above glibc's
/// `DEFAULT_MMAP_THRESHOLD_MAX` (32 MiB with 64-bit `long`), the ceiling of its dynamic mmap
/// threshold, so the allocation is always mapped and unmapped on its own.
pub(crate) const ALWAYS_MAPPED_BYTES: usize = 33 * 1024 * 1024;

/// Argon2's working memory, grown on demand and kept until [`HashMemory::release`].
pub(crate) struct HashMemory {
    blocks: Vec<Block>,
}

impl HashMemory {
    /// Empty memory: nothing is allocated before the first argon2 hash.
    pub(crate) const fn new() -> Self {
        Self { blocks: Vec::new() }
    }

    /// `count` blocks for one hash, allocating them on first use (or when a hash needs more
    /// than any before it); `None` when the allocation fails.
    pub(crate) fn blocks(&mut self, count: usize) -> Option<&mut [Block]> {
        if self.blocks.len() < count {
            if self.blocks.capacity() < count {
                // Give the old area back before taking the larger one, so that the two are
                // never resident together.
                self.release();
                let reserve = count.max(ALWAYS_MAPPED_BYTES / Block::SIZE);
                self.blocks.try_reserve_exact(reserve).ok()?;
            }
            self.blocks.resize(count, Block::new());
        }
        self.blocks.get_mut(..count)
    }

    /// Frees the blocks (a `munmap`: the memory is the kernel's again).
    pub(crate) fn release(&mut self) {
        self.blocks = Vec::new();
    }

    /// The bytes of blocks in use (what is resident once a hash has run), for tests and
    /// logs.
    pub(crate) fn held_bytes(&self) -> usize {
        self.blocks.len() * Block::SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::{ALWAYS_MAPPED_BYTES, HashMemory};
    use argon2::Block;

    #[test]
    fn blocks_are_reused_and_grow_only_when_a_hash_needs_more() {
        let mut memory = HashMemory::new();
        assert_eq!(memory.held_bytes(), 0, "nothing before the first hash");
        let first = memory.blocks(64).expect("allocates").as_ptr();
        assert_eq!(memory.held_bytes(), 64 * Block::SIZE);
        assert!(memory.blocks.capacity() * Block::SIZE >= ALWAYS_MAPPED_BYTES);
        assert_eq!(memory.blocks(32).expect("reuses").as_ptr(), first);
        assert_eq!(memory.blocks(64).expect("reuses").as_ptr(), first);
        assert_eq!(
            memory.held_bytes(),
            64 * Block::SIZE,
            "a smaller hash does not shrink it"
        );
        let big = ALWAYS_MAPPED_BYTES / Block::SIZE + 1;
        assert_eq!(memory.blocks(big).expect("grows").len(), big);
        memory.release();
        assert_eq!(memory.held_bytes(), 0);
        assert_eq!(memory.blocks.capacity(), 0, "released memory is freed");
    }
}
