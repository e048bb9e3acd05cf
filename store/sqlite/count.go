package sqlite

import (
	"context"

	"github.com/graphconn/graphconn/store"
)

// CountConnections implements store.Store.
func (db *DB) CountConnections(ctx context.Context, tenant, owner string) (int64, error) {
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM connections WHERE tenant = ?1 AND (?2 = '' OR owner = ?2)`, tenant, owner).Scan(&n)
	if err != nil {
		return 0, internal("count connections", err)
	}
	return n, nil
}

// CountOperations implements store.Store.
func (db *DB) CountOperations(ctx context.Context, tenant, connID string, status *store.OperationStatus) (int64, error) {
	if _, err := db.Connection(ctx, tenant, connID); err != nil {
		return 0, err
	}
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM operations WHERE tenant = ?1 AND connection_id = ?2 AND (?3 IS NULL OR status = ?3)`,
		tenant, connID, status).Scan(&n)
	if err != nil {
		return 0, internal("count operations", err)
	}
	return n, nil
}
