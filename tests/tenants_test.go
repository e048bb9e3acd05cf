package tests

import "github.com/graphconn/graphconn/auth"

// devTenant is the tenant of the env's default token, and of every token
// minted without a tenant.
const devTenant = auth.DevTenantID
