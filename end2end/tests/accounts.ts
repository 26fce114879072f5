import * as path from 'node:path';

/** The administrator the test server creates at start (ADMIN_EMAIL / ADMIN_PASSWORD). */
export const ADMIN_EMAIL = 'admin@example.com';
export const ADMIN_PASSWORD = 'e2e-admin-password';
/** The signed-in browser state the `setup` project saves and every test starts from. */
export const ADMIN_STATE = path.join(__dirname, '..', 'test-results', '.auth', 'admin.json');
