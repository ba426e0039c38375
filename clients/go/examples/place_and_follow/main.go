// Command place_and_follow shows the ibkr.v1 API from Go: it authenticates with a bearer token,
// places a limit order under an idempotency key, reads the order-event log, drops that stream
// itself, cancels the order while no stream is open, and resumes the log with after_sequence, so
// that the events it missed arrive replayed, none lost and none repeated.
//
//	go run ./examples/place_and_follow -target 127.0.0.1:50051 -token "$TOKEN" \
//	    -account DU1234567 -symbol AAPL -quantity 5 -limit-price 20 -client-order-id demo-1
//
// Every step prints one JSON line on stdout (see record). A failed call prints
// "failed: CODE REASON: message" on stderr, REASON being the ErrorInfo reason the server sent,
// and exits with status 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	ibkrv1 "github.com/ibkr-grpc/ibkr-grpc/clients/go/ibkr/v1"
)

type options struct {
	target        string
	token         string
	useTLS        bool
	account       string
	symbol        string
	quantity      string
	limitPrice    string
	clientOrderID string
	timeout       time.Duration
}

func parseOptions() options {
	var chosen options
	flag.StringVar(&chosen.target, "target", "127.0.0.1:50051", "the server's host:port")
	flag.StringVar(&chosen.token, "token", os.Getenv("IBKR_GRPC_TOKEN"),
		"the API token (a JWT; default $IBKR_GRPC_TOKEN)")
	flag.BoolVar(&chosen.useTLS, "tls", false,
		"connect with TLS (the system's roots) instead of plaintext")
	flag.StringVar(&chosen.account, "account", "", "the IB account to trade in")
	flag.StringVar(&chosen.symbol, "symbol", "AAPL", "the stock to buy")
	flag.StringVar(&chosen.quantity, "quantity", "1", "how many shares, a decimal string")
	flag.StringVar(&chosen.limitPrice, "limit-price", "", "the limit price, a decimal string")
	flag.StringVar(&chosen.clientOrderID, "client-order-id", "",
		"the idempotency key: rerunning with the same key returns the same order")
	flag.DurationVar(&chosen.timeout, "timeout", 30*time.Second, "give up after this long")
	flag.Parse()
	return chosen
}

// bearerToken sends the API token with every call as "authorization: Bearer TOKEN".
type bearerToken struct {
	token      string
	requireTLS bool
}

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity is false only for a plaintext connection, which the caller asked
// for with -tls=false (a server on the same host, or behind a TLS-terminating proxy).
func (b bearerToken) RequireTransportSecurity() bool { return b.requireTLS }

func dial(chosen options) (*grpc.ClientConn, error) {
	token := grpc.WithPerRPCCredentials(bearerToken{token: chosen.token, requireTLS: chosen.useTLS})
	if chosen.useTLS {
		return grpc.Dial(chosen.target, token,
			grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(nil, "")))
	}
	// WithInsecure is grpc-go 1.33's way to ask for plaintext; newer releases also offer
	// insecure.NewCredentials().
	return grpc.Dial(chosen.target, token, grpc.WithInsecure())
}

// record is one line of output.
type record struct {
	// placed, event, marker, dropped, cancel_requested, resumed or done.
	Step          string `json:"step"`
	Stream        int    `json:"stream,omitempty"`
	Sequence      int64  `json:"sequence,omitempty"`
	EventType     string `json:"event_type,omitempty"`
	Marker        string `json:"marker,omitempty"`
	OrderID       string `json:"order_id,omitempty"`
	ClientOrderID string `json:"client_order_id,omitempty"`
	Status        string `json:"status,omitempty"`
}

var output = json.NewEncoder(os.Stdout)

func emit(line record) {
	if err := output.Encode(line); err != nil {
		fail(err)
	}
}

func orderRecord(step string, order *ibkrv1.Order) record {
	return record{
		Step:          step,
		OrderID:       order.GetOrderId(),
		ClientOrderID: order.GetClientOrderId(),
		Status:        order.GetStatus().String(),
	}
}

// finished decides, after each message of a stream, whether the program has read enough.
type finished func(*ibkrv1.StreamOrderEventsResponse) bool

// readEvents reads one StreamOrderEvents stream until done says so, then drops it by cancelling
// its context. It returns the sequence of the last event read (after when there was none) and
// fails if a sequence does not go up: the log is ordered and resuming must not repeat events.
func readEvents(
	ctx context.Context,
	orders ibkrv1.OrderServiceClient,
	number int,
	request *ibkrv1.StreamOrderEventsRequest,
	after int64,
	done finished,
) (int64, error) {
	streamContext, drop := context.WithCancel(ctx)
	defer drop()
	stream, err := orders.StreamOrderEvents(streamContext, request)
	if err != nil {
		return after, err
	}
	last := after
	for {
		message, err := stream.Recv()
		if err != nil {
			// io.EOF included: the server ending the stream before we were done is a failure here.
			return last, fmt.Errorf("stream %d ended after sequence %d: %w", number, last, err)
		}
		if event := message.GetOrderEvent(); event != nil {
			if event.GetSequence() <= last {
				return last, fmt.Errorf("stream %d: sequence %d after %d", number, event.GetSequence(), last)
			}
			last = event.GetSequence()
			line := orderRecord("event", event.GetOrder())
			line.Stream, line.Sequence, line.EventType = number, last, event.GetType().String()
			emit(line)
		}
		if marker := message.GetMarker(); marker != nil {
			emit(record{Step: "marker", Stream: number, Marker: marker.GetType().String()})
		}
		if done(message) {
			return last, nil
		}
	}
}

func run(ctx context.Context, chosen options) error {
	connection, err := dial(chosen)
	if err != nil {
		return err
	}
	defer connection.Close()
	orders := ibkrv1.NewOrderServiceClient(connection)

	stock := &ibkrv1.Contract{
		Symbol:       chosen.symbol,
		SecurityType: ibkrv1.SecurityType_SECURITY_TYPE_STOCK,
	}
	placed, err := orders.PlaceOrder(ctx, &ibkrv1.PlaceOrderRequest{
		Account:       chosen.account,
		Contract:      stock,
		Side:          ibkrv1.Side_SIDE_BUY,
		Quantity:      chosen.quantity,
		OrderType:     ibkrv1.OrderType_ORDER_TYPE_LIMIT,
		LimitPrice:    chosen.limitPrice,
		TimeInForce:   ibkrv1.TimeInForce_TIME_IN_FORCE_GTC,
		ClientOrderId: chosen.clientOrderID,
	})
	if err != nil {
		return err
	}
	order := placed.GetOrder()
	emit(orderRecord("placed", order))

	// The first stream replays the whole log, which holds the new order's events, and is dropped
	// once the replay is complete.
	seenOrder, replayed := false, false
	last, err := readEvents(ctx, orders, 1, &ibkrv1.StreamOrderEventsRequest{ReplayFromStart: true}, 0,
		func(message *ibkrv1.StreamOrderEventsResponse) bool {
			seenOrder = seenOrder || message.GetOrderEvent().GetOrder().GetOrderId() == order.GetOrderId()
			replayed = replayed ||
				message.GetMarker().GetType() == ibkrv1.StreamMarkerType_STREAM_MARKER_TYPE_REPLAY_COMPLETE
			return seenOrder && replayed
		})
	if err != nil {
		return err
	}
	emit(record{Step: "dropped", Stream: 1, Sequence: last})

	// With no stream open, the order's cancel adds events to the log that stream 2 must replay.
	cancelled, err := orders.CancelOrder(ctx, &ibkrv1.CancelOrderRequest{OrderId: order.GetOrderId()})
	if err != nil {
		return err
	}
	emit(orderRecord("cancel_requested", cancelled.GetOrder()))

	emit(record{Step: "resumed", Stream: 2, Sequence: last})
	last, err = readEvents(ctx, orders, 2, &ibkrv1.StreamOrderEventsRequest{AfterSequence: last}, last,
		func(message *ibkrv1.StreamOrderEventsResponse) bool {
			event := message.GetOrderEvent()
			return event.GetOrder().GetOrderId() == order.GetOrderId() &&
				event.GetOrder().GetStatus() == ibkrv1.OrderStatus_ORDER_STATUS_CANCELLED
		})
	if err != nil {
		return err
	}
	emit(record{Step: "done", Sequence: last})
	return nil
}

// statusOf finds the gRPC status in err or in what err wraps; other errors are UNKNOWN.
func statusOf(err error) (failure *status.Status, wrapped bool) {
	for cause := err; cause != nil; cause = errors.Unwrap(cause) {
		if found, ok := status.FromError(cause); ok {
			return found, cause != err
		}
	}
	return status.New(codes.Unknown, err.Error()), true
}

// fail reports a failed call by its gRPC code and the ErrorInfo reason in its status details.
func fail(err error) {
	failure, wrapped := statusOf(err)
	reason := ""
	for _, detail := range failure.Details() {
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	message := failure.Message()
	if wrapped {
		message = err.Error()
	}
	fmt.Fprintf(os.Stderr, "failed: %s %s: %s\n", failure.Code(), reason, message)
	os.Exit(1)
}

func main() {
	chosen := parseOptions()
	ctx, cancel := context.WithTimeout(context.Background(), chosen.timeout)
	defer cancel()
	if err := run(ctx, chosen); err != nil {
		cancel()
		fail(err)
	}
}
