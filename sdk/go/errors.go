// SPDX-License-Identifier: Apache-2.0

package boxlite

import (
	"errors"
	"fmt"
)

// ErrorCode is the library's result code (boxlite_code). Each code is also an error value,
// so errors.Is(err, boxlite.ErrNotFound) works on any error the package returns, and
// e.Code == boxlite.ErrNotFound on an *Error.
type ErrorCode int

// The library's codes (include/boxlite.h); stable numbers.
const (
	ErrInvalidArgument ErrorCode = 1
	ErrNotFound        ErrorCode = 2
	ErrAlreadyExists   ErrorCode = 3
	ErrInvalidState    ErrorCode = 4
	ErrIO              ErrorCode = 5
	ErrNoMemory        ErrorCode = 6
	ErrEngine          ErrorCode = 7
	ErrTimeout         ErrorCode = 8
	ErrImage           ErrorCode = 9
	ErrAuth            ErrorCode = 10
	ErrNetwork         ErrorCode = 11
	ErrProtocol        ErrorCode = 12
	ErrUnsupported     ErrorCode = 13
	ErrInternal        ErrorCode = 14
	ErrCancelled       ErrorCode = 15
)

var codeNames = map[ErrorCode]string{
	ErrInvalidArgument: "invalid argument", ErrNotFound: "not found", ErrAlreadyExists: "already exists",
	ErrInvalidState: "invalid state", ErrIO: "i/o error", ErrNoMemory: "out of memory",
	ErrEngine: "engine error", ErrTimeout: "timeout", ErrImage: "image error", ErrAuth: "auth error",
	ErrNetwork: "network error", ErrProtocol: "protocol error", ErrUnsupported: "unsupported",
	ErrInternal: "internal error", ErrCancelled: "cancelled",
}

func (c ErrorCode) Error() string {
	if n, ok := codeNames[c]; ok {
		return "boxlite: " + n
	}
	return fmt.Sprintf("boxlite: error %d", int(c))
}

// Error is a failure the library reported: its code and message.
type Error struct {
	Code    ErrorCode
	Message string
}

func newError(code ErrorCode, msg string) *Error { return &Error{Code: code, Message: msg} }

func (e *Error) Error() string { return fmt.Sprintf("boxlite: %s (code=%d)", e.Message, int(e.Code)) }

// Is makes errors.Is(err, boxlite.ErrNotFound) true for an *Error of that code.
func (e *Error) Is(target error) bool {
	if c, ok := target.(ErrorCode); ok {
		return c == e.Code
	}
	return false
}

// ErrRuntimeClosed is returned by calls on a runtime (and its boxes and executions) after
// Runtime.Close; errors.Is(err, ErrInvalidState) holds for it too.
var ErrRuntimeClosed = &Error{Code: ErrInvalidState, Message: "runtime closed"}

func isCode(err error, c ErrorCode) bool { return errors.Is(err, c) }

// IsNotFound reports whether err is a not-found failure.
func IsNotFound(err error) bool { return isCode(err, ErrNotFound) }

// IsAlreadyExists reports whether err says the name or object exists already.
func IsAlreadyExists(err error) bool { return isCode(err, ErrAlreadyExists) }

// IsInvalidState reports whether err says the call is not allowed in the current state
// (a closed handle, a stopped box).
func IsInvalidState(err error) bool { return isCode(err, ErrInvalidState) }

// IsTimeout reports whether err is the library's timeout.
func IsTimeout(err error) bool { return isCode(err, ErrTimeout) }
