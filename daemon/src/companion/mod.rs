//! Approving what another master asks. Every daemon with a passkey listens on the relay's
//! approval stream (a companion on a laptop is the usual approver of a server's daemon); each
//! request is checked before anything is shown: the right RP ID, a requester that is an active
//! master of the request's operator, and that operator being this device's own (a device not
//! registered yet only proves its passkey for its own registration). Then the page shows the
//! operation in words and who asks, and the answer goes back through the relay.

mod listener;

pub use listener::listen;
