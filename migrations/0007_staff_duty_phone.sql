-- Grid staff get a duty phone (工作电话): the number posted on grid notice boards, shown to
-- every account that sees the grid. `staff.phone` is from now on the person's own number,
-- personal data shown only to accounts that see the grid in full (see domain::access).
-- Existing numbers stay where they are, as personal numbers: nothing says they were duty
-- numbers, and publishing a personal number by mistake cannot be undone.
ALTER TABLE staff ADD COLUMN duty_phone text;

COMMENT ON COLUMN staff.duty_phone IS 'duty phone (工作电话): public to every account that sees the grid';
COMMENT ON COLUMN staff.phone IS 'personal phone: personal data, shown with full visibility only';
