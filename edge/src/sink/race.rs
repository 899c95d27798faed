//! Racing two futures, for timeouts: the Workers runtime has no timer-aware `select`, and a
//! whole futures crate for one combinator would only grow the Wasm.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

/// Which of two raced futures finished first.
#[derive(Debug, PartialEq, Eq)]
pub enum First<A, B> {
    /// The first future finished (or both did in the same poll: the first wins ties).
    Left(A),
    /// The second future finished first.
    Right(B),
}

/// Runs `a` and `b` until one finishes; the other is dropped, which cancels it.
pub async fn first_of<A: Future, B: Future>(a: A, b: B) -> First<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    poll_fn(|cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(First::Left(x));
        }
        if let Poll::Ready(y) = b.as_mut().poll(cx) {
            return Poll::Ready(First::Right(y));
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use std::future::{pending, ready};

    #[test]
    fn the_finished_one_wins_and_ties_go_left() {
        assert_eq!(
            block_on(first_of(pending::<u8>(), ready("timeout"))),
            First::Right("timeout")
        );
        assert_eq!(
            block_on(first_of(ready(1), pending::<()>())),
            First::Left(1)
        );
        assert_eq!(block_on(first_of(ready(1), ready(2))), First::Left(1));
    }
}
