// One class for the server and the dashboard (the browser shows the server's code and message as they come).
export { ApiError } from '../dashboard-api.js';
