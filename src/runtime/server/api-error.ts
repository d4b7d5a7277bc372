/** An error with an HTTP status and a stable code; rendered as `{ error: { status, code, message } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
