//! Plain domain types and rules: no HTTP, no SQL.
