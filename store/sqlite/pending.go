package sqlite

import "context"

// PendingOperations implements store.Store.
func (db *DB) PendingOperations(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM operations WHERE due IS NOT NULL AND status NOT IN `+terminal).Scan(&n)
	if err != nil {
		return 0, internal("count pending operations", err)
	}
	return n, nil
}
