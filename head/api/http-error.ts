// An API request refused with an HTTP status and a message for the client (and, for manifests, one
// line per problem).
export class HttpError extends Error {
  readonly status: number;
  readonly problems?: string[];
  constructor(status: number, message: string, problems?: string[]) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.problems = problems;
  }
}
