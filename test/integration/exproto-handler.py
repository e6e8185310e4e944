#!/usr/bin/python3
# An ExProto handler in Python with Debian's python3-grpcio and python3-protobuf: a second gRPC
# stack, independent of grpc-js, against the same exproto.proto. Debian ships no protoc plugin, so
# the message classes come from the .proto's FileDescriptorProto (argv[1], serialized by the test
# from the shipped file) and the services are wired with grpc's generic handlers.
#
# Line protocol: "CONNECT <clientid> <username> <password>", "PUB <topic> <payload>", "SUB <topic>";
# replies "OK", "DENIED", "PUBOK"; deliveries as "MSG <topic> <payload>".
#   usage: exproto-handler.py <descriptor.bin> <adapter host:port>
import sys
import threading
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PKG = "emqx.exproto.v1"

fdp = descriptor_pb2.FileDescriptorProto.FromString(open(sys.argv[1], "rb").read())
pool = descriptor_pool.DescriptorPool()
pool.Add(fdp)
factory = message_factory.MessageFactory(pool)


def cls(name):
    desc = pool.FindMessageTypeByName(PKG + "." + name)
    get = getattr(message_factory, "GetMessageClass", None)
    return get(desc) if get else factory.GetPrototype(desc)


M = {n: cls(n) for n in ["EmptySuccess", "CodeResponse", "SendBytesRequest", "CloseSocketRequest", "AuthenticateRequest",
                         "TimerRequest", "PublishRequest", "SubscribeRequest", "SocketCreatedRequest", "ReceivedBytesRequest",
                         "TimerTimeoutRequest", "SocketClosedRequest", "ReceivedMessagesRequest", "ClientInfo"]}
SUCCESS = pool.FindEnumTypeByName(PKG + ".ResultCode").values_by_name["SUCCESS"].number

channel = grpc.insecure_channel(sys.argv[2])


def adapter(method, req_type):
    return channel.unary_unary("/%s.ConnectionAdapter/%s" % (PKG, method),
                               request_serializer=M[req_type].SerializeToString,
                               response_deserializer=M["CodeResponse"].FromString)


Send = adapter("Send", "SendBytesRequest")
Authenticate = adapter("Authenticate", "AuthenticateRequest")
StartTimer = adapter("StartTimer", "TimerRequest")
Publish = adapter("Publish", "PublishRequest")
Subscribe = adapter("Subscribe", "SubscribeRequest")

buffers = {}
lock = threading.Lock()


def log(*a):
    print(*a, flush=True)


def send(conn, text):
    Send(M["SendBytesRequest"](conn=conn, bytes=text.encode()), timeout=5)


def on_socket_created(req, ctx):
    log("created", req.conn, req.conninfo.peername.port)
    return M["EmptySuccess"]()


def on_received_bytes(req, ctx):
    with lock:
        data = buffers.get(req.conn, b"") + req.bytes
        *lines, rest = data.split(b"\n")
        buffers[req.conn] = rest
    for line in lines:
        parts = line.decode().split(" ", 3)
        if parts[0] == "CONNECT" and len(parts) == 4:
            ci = M["ClientInfo"](proto_name="pyline", proto_ver="1", clientid=parts[1], username=parts[2])
            r = Authenticate(M["AuthenticateRequest"](conn=req.conn, clientinfo=ci, password=parts[3]), timeout=5)
            if r.code == SUCCESS:
                StartTimer(M["TimerRequest"](conn=req.conn, type=0, interval=30), timeout=5)
            send(req.conn, "OK\n" if r.code == SUCCESS else "DENIED\n")
        elif parts[0] == "PUB" and len(parts) >= 3:
            payload = " ".join(parts[2:]).encode()
            r = Publish(M["PublishRequest"](conn=req.conn, topic=parts[1], qos=1, payload=payload), timeout=5)
            send(req.conn, "PUBOK\n" if r.code == SUCCESS else "PUBERR %d\n" % r.code)
        elif parts[0] == "SUB" and len(parts) == 2:
            r = Subscribe(M["SubscribeRequest"](conn=req.conn, topic=parts[1], qos=1), timeout=5)
            send(req.conn, "SUBOK\n" if r.code == SUCCESS else "SUBERR %d\n" % r.code)
    return M["EmptySuccess"]()


def on_received_messages(req, ctx):
    for m in req.messages:
        send(req.conn, "MSG %s %s\n" % (m.topic, m.payload.decode()))
    return M["EmptySuccess"]()


def on_timer_timeout(req, ctx):
    log("timeout", req.conn)
    return M["EmptySuccess"]()


def on_socket_closed(req, ctx):
    log("closed", req.conn, req.reason)
    with lock:
        buffers.pop(req.conn, None)
    return M["EmptySuccess"]()


def unary(fn, req_type):
    return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=M[req_type].FromString,
                                               response_serializer=M["EmptySuccess"].SerializeToString)


handlers = grpc.method_handlers_generic_handler(PKG + ".ConnectionUnaryHandler", {
    "OnSocketCreated": unary(on_socket_created, "SocketCreatedRequest"),
    "OnReceivedBytes": unary(on_received_bytes, "ReceivedBytesRequest"),
    "OnReceivedMessages": unary(on_received_messages, "ReceivedMessagesRequest"),
    "OnTimerTimeout": unary(on_timer_timeout, "TimerTimeoutRequest"),
    "OnSocketClosed": unary(on_socket_closed, "SocketClosedRequest"),
})

server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
server.add_generic_rpc_handlers((handlers,))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
log("listening", port)
# Ends when the test closes stdin (or kills this process by its PID).
sys.stdin.read()
server.stop(0)
