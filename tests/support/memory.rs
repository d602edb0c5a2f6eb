//! Reading what a value leaves in memory after it is dropped, for the zeroization tests.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

/// The bytes of the storage in `slot`.
pub fn image<T>(slot: &MaybeUninit<T>) -> Vec<u8> {
    let base = slot.as_ptr().cast::<u8>();
    (0..size_of::<T>())
        // SAFETY: every offset is inside the slot, which was zero-filled before a value was
        // written, so each byte holds a value (padding: zeros, or what the move copied).
        // Volatile reads keep the compiler from assuming the dropped memory is dead.
        .map(|i| unsafe { base.add(i).read_volatile() })
        .collect()
}

/// A value placed in zeroed storage, so that its bytes can be read after it is dropped.
pub fn place<T>(value: T) -> MaybeUninit<T> {
    let mut slot = MaybeUninit::<T>::zeroed();
    slot.write(value);
    slot
}

/// Drops the value in `slot` where it lies.
pub fn drop_in_place<T>(slot: &mut MaybeUninit<T>) {
    // SAFETY: the slot holds a value written by `place` that has not been dropped yet; it
    // is not used as a `T` afterwards, only read as bytes.
    unsafe { slot.assume_init_drop() }
}
