//! Bookings over HTTP, by audience: applicants book and manage their visit
//! ([`applicant`]); the desk books on someone's behalf and runs the day ([`desk`]).

pub mod applicant;
pub mod desk;
