//! The one way lookout locks a `std::sync::Mutex` (and a `RwLock`: [`read`], [`write`]): [`lock`] takes the guard even when another
//! thread panicked while holding it, instead of panicking in turn. Every mutex in lookout guards
//! state that each change leaves whole (a table replaced in one step, a counter, a list pushed
//! to), so the data behind a poisoned lock is still good, and a panic caught in one task must
//! not take the daemon down with it.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Lock `mutex`, recovering it if a holder panicked.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-lock `rwlock`, recovering it if a writer panicked.
pub fn read<T: ?Sized>(rwlock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    rwlock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-lock `rwlock`, recovering it if a writer panicked.
pub fn write<T: ?Sized>(rwlock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    rwlock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_poisoned_mutex_is_recovered() {
        let shared = Arc::new(Mutex::new(1));
        let holder = Arc::clone(&shared);
        let _ = std::thread::spawn(move || {
            let _guard = holder.lock().unwrap();
            panic!("a holder panics");
        })
        .join();
        assert!(shared.is_poisoned());
        *super::lock(&shared) += 1;
        assert_eq!(*super::lock(&shared), 2);
    }
}
