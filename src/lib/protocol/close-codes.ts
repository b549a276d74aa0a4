// Each code is its own constant so a bundle carries only the codes it uses; `CloseCode` gathers them
// for applications. PROTOCOL.md lists the same table with what each end does about each code.

/** 1000: the peer is done. */
export const NORMAL_CLOSURE = 1000;
/** 1001: the server is shutting down or the page is going away. */
export const GOING_AWAY = 1001;
/** 1002: a frame broke RFC 6455 (sent by `ws` itself). */
export const PROTOCOL_ERROR = 1002;
/** 1006: the connection dropped without a close frame (observed, never sent). */
export const ABNORMAL_CLOSURE = 1006;
/** 1007: a text frame was not valid UTF-8. */
export const INVALID_PAYLOAD = 1007;
/** 1008: the peer broke a rule retrying cannot fix: the client stops reconnecting. */
export const POLICY_VIOLATION = 1008;
/** 1009: a frame was larger than the receiver accepts. */
export const MESSAGE_TOO_BIG = 1009;
/** 1011: the server hit an unexpected condition. */
export const INTERNAL_ERROR = 1011;
/** 1013: the server is overloaded or the client read too slowly: retry later. */
export const TRY_AGAIN_LATER = 1013;
/** 4001: the token was invalid or expired: get a fresh one and reconnect. */
export const INVALID_TOKEN = 4001;
/** 4002: no authentication frame arrived in time. */
export const AUTH_TIMEOUT = 4002;
/** 4003: too many connections are waiting to authenticate: back off and retry. */
export const TOO_MANY_PENDING = 4003;
/**
 * 4004: the server revoked the user's session (`disconnectUser`): the client stops reconnecting, as
 * a signed-out user must sign in again.
 */
export const SESSION_REVOKED = 4004;
/** 4005: the user has as many connections as the route allows (`maxConnectionsPerUser`): retry later. */
export const TOO_MANY_USER_CONNECTIONS = 4005;

/**
 * Every WebSocket close code either end of runesocket sends or acts on, by name.
 *
 * @example
 * ```ts
 * import { CloseCode, Disconnected } from 'runesocket';
 * client.on(Disconnected, ({ code }) => {
 * 	if (code === CloseCode.PolicyViolation) showSignIn(code);
 * });
 * ```
 */
export const CloseCode = {
	Normal: NORMAL_CLOSURE,
	GoingAway: GOING_AWAY,
	ProtocolError: PROTOCOL_ERROR,
	Abnormal: ABNORMAL_CLOSURE,
	InvalidPayload: INVALID_PAYLOAD,
	PolicyViolation: POLICY_VIOLATION,
	MessageTooBig: MESSAGE_TOO_BIG,
	InternalError: INTERNAL_ERROR,
	TryAgainLater: TRY_AGAIN_LATER,
	InvalidToken: INVALID_TOKEN,
	AuthTimeout: AUTH_TIMEOUT,
	TooManyPending: TOO_MANY_PENDING,
	SessionRevoked: SESSION_REVOKED,
	TooManyUserConnections: TOO_MANY_USER_CONNECTIONS
} as const;

/**
 * A close code runesocket knows by name.
 */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];
