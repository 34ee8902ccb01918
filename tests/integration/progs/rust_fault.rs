// rust_fault: a NULL write a few calls deep, through a generic function and
// a closure, with #[inline(always)] helpers that become inline frames when
// built at -C opt-level=2. The pointer comes from a volatile read, so the
// write is not folded away.
use std::ptr;

static mut TARGET: usize = 0; // NULL

#[inline(always)]
fn inner_store(p: *mut i32, v: i32) {
    unsafe { ptr::write_volatile(p, v * 3) } // @fault
}

#[inline(always)]
fn outer_store(p: *mut i32, v: i32) {
    inner_store(p, v + 1); // @outer
}

#[inline(never)]
fn generic_level<T: Into<i64>>(p: *mut i32, v: T) {
    outer_store(p, v.into() as i32); // @generic
}

#[inline(never)]
fn call_with<F: Fn(i32)>(f: F, v: i32) {
    f(v); // @call_with
}

#[inline(never)]
fn with_closure(p: *mut i32, v: i32) {
    call_with(|x| generic_level::<i32>(p, x), v); // @closure
}

#[inline(never)]
fn level1(p: *mut i32, v: i32) {
    with_closure(p, v + 1); // @level1
}

fn main() {
    let p = unsafe { ptr::read_volatile(ptr::addr_of!(TARGET)) } as *mut i32;
    println!("rust_fault: about to crash");
    level1(p, std::env::args().count() as i32); // @main
}
