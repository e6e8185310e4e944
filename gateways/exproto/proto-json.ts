// GENERATED from exproto.proto: proto-loader builds the services from this JSON form, so the daemon,
// bundled or installed, needs no .proto file at run time. test/unit/gateways/exproto/proto.test.ts
// fails when the two differ; regenerate the object below with
//   node -p "JSON.stringify(new (require('protobufjs').Root)().loadSync('gateways/exproto/exproto.proto',{keepCase:true}).toJSON(),(k,v)=>k==='comment'?undefined:v,2)"
export const EXPROTO_JSON = {
  nested: {
    emqx: {
      nested: {
        exproto: {
          nested: {
            'v1': {
              nested: {
                ConnectionAdapter: {
                  methods: {
                    Send: {
                      requestType: 'SendBytesRequest',
                      responseType: 'CodeResponse'
                    },
                    Close: {
                      requestType: 'CloseSocketRequest',
                      responseType: 'CodeResponse'
                    },
                    Authenticate: {
                      requestType: 'AuthenticateRequest',
                      responseType: 'CodeResponse'
                    },
                    StartTimer: {
                      requestType: 'TimerRequest',
                      responseType: 'CodeResponse'
                    },
                    Publish: {
                      requestType: 'PublishRequest',
                      responseType: 'CodeResponse'
                    },
                    Subscribe: {
                      requestType: 'SubscribeRequest',
                      responseType: 'CodeResponse'
                    },
                    Unsubscribe: {
                      requestType: 'UnsubscribeRequest',
                      responseType: 'CodeResponse'
                    },
                    RawPublish: {
                      requestType: 'RawPublishRequest',
                      responseType: 'CodeResponse'
                    }
                  }
                },
                ConnectionHandler: {
                  methods: {
                    OnSocketCreated: {
                      requestType: 'SocketCreatedRequest',
                      requestStream: true,
                      responseType: 'EmptySuccess'
                    },
                    OnSocketClosed: {
                      requestType: 'SocketClosedRequest',
                      requestStream: true,
                      responseType: 'EmptySuccess'
                    },
                    OnReceivedBytes: {
                      requestType: 'ReceivedBytesRequest',
                      requestStream: true,
                      responseType: 'EmptySuccess'
                    },
                    OnTimerTimeout: {
                      requestType: 'TimerTimeoutRequest',
                      requestStream: true,
                      responseType: 'EmptySuccess'
                    },
                    OnReceivedMessages: {
                      requestType: 'ReceivedMessagesRequest',
                      requestStream: true,
                      responseType: 'EmptySuccess'
                    }
                  }
                },
                ConnectionUnaryHandler: {
                  methods: {
                    OnSocketCreated: {
                      requestType: 'SocketCreatedRequest',
                      responseType: 'EmptySuccess'
                    },
                    OnSocketClosed: {
                      requestType: 'SocketClosedRequest',
                      responseType: 'EmptySuccess'
                    },
                    OnReceivedBytes: {
                      requestType: 'ReceivedBytesRequest',
                      responseType: 'EmptySuccess'
                    },
                    OnTimerTimeout: {
                      requestType: 'TimerTimeoutRequest',
                      responseType: 'EmptySuccess'
                    },
                    OnReceivedMessages: {
                      requestType: 'ReceivedMessagesRequest',
                      responseType: 'EmptySuccess'
                    }
                  }
                },
                EmptySuccess: {
                  fields: {}
                },
                ResultCode: {
                  values: {
                    SUCCESS: 0,
                    UNKNOWN: 1,
                    CONN_PROCESS_NOT_ALIVE: 2,
                    REQUIRED_PARAMS_MISSED: 3,
                    PARAMS_TYPE_ERROR: 4,
                    PERMISSION_DENY: 5
                  }
                },
                CodeResponse: {
                  fields: {
                    code: {
                      type: 'ResultCode',
                      id: 1
                    },
                    message: {
                      type: 'string',
                      id: 2
                    }
                  }
                },
                SendBytesRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    },
                    bytes: {
                      type: 'bytes',
                      id: 2
                    }
                  }
                },
                CloseSocketRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    }
                  }
                },
                AuthenticateRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    },
                    clientinfo: {
                      type: 'ClientInfo',
                      id: 2
                    },
                    password: {
                      type: 'string',
                      id: 3
                    }
                  }
                },
                TimerRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    },
                    type: {
                      type: 'TimerType',
                      id: 2
                    },
                    interval: {
                      type: 'uint32',
                      id: 3
                    }
                  }
                },
                TimerType: {
                  values: {
                    KEEPALIVE: 0
                  }
                },
                PublishRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    },
                    topic: {
                      type: 'string',
                      id: 2
                    },
                    qos: {
                      type: 'uint32',
                      id: 3
                    },
                    payload: {
                      type: 'bytes',
                      id: 4
                    }
                  }
                },
                RawPublishRequest: {
                  fields: {
                    topic: {
                      type: 'string',
                      id: 1
                    },
                    qos: {
                      type: 'uint32',
                      id: 2
                    },
                    payload: {
                      type: 'bytes',
                      id: 3
                    }
                  }
                },
                SubscribeRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    },
                    topic: {
                      type: 'string',
                      id: 2
                    },
                    qos: {
                      type: 'uint32',
                      id: 3
                    }
                  }
                },
                UnsubscribeRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    },
                    topic: {
                      type: 'string',
                      id: 2
                    }
                  }
                },
                SocketCreatedRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    },
                    conninfo: {
                      type: 'ConnInfo',
                      id: 2
                    }
                  }
                },
                ReceivedBytesRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    },
                    bytes: {
                      type: 'bytes',
                      id: 2
                    }
                  }
                },
                TimerTimeoutRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    },
                    type: {
                      type: 'TimerType',
                      id: 2
                    }
                  }
                },
                SocketClosedRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    },
                    reason: {
                      type: 'string',
                      id: 2
                    }
                  }
                },
                ReceivedMessagesRequest: {
                  fields: {
                    conn: {
                      type: 'string',
                      id: 1
                    },
                    messages: {
                      rule: 'repeated',
                      type: 'Message',
                      id: 2
                    }
                  }
                },
                ConnInfo: {
                  fields: {
                    socktype: {
                      type: 'SocketType',
                      id: 1
                    },
                    peername: {
                      type: 'Address',
                      id: 2
                    },
                    sockname: {
                      type: 'Address',
                      id: 3
                    },
                    peercert: {
                      type: 'CertificateInfo',
                      id: 4
                    }
                  }
                },
                SocketType: {
                  values: {
                    TCP: 0,
                    SSL: 1,
                    UDP: 2,
                    DTLS: 3
                  }
                },
                Address: {
                  fields: {
                    host: {
                      type: 'string',
                      id: 1
                    },
                    port: {
                      type: 'uint32',
                      id: 2
                    }
                  }
                },
                CertificateInfo: {
                  fields: {
                    cn: {
                      type: 'string',
                      id: 1
                    },
                    dn: {
                      type: 'string',
                      id: 2
                    }
                  }
                },
                ClientInfo: {
                  fields: {
                    proto_name: {
                      type: 'string',
                      id: 1
                    },
                    proto_ver: {
                      type: 'string',
                      id: 2
                    },
                    clientid: {
                      type: 'string',
                      id: 3
                    },
                    username: {
                      type: 'string',
                      id: 4
                    },
                    mountpoint: {
                      type: 'string',
                      id: 5
                    }
                  }
                },
                Message: {
                  fields: {
                    node: {
                      type: 'string',
                      id: 1
                    },
                    id: {
                      type: 'string',
                      id: 2
                    },
                    qos: {
                      type: 'uint32',
                      id: 3
                    },
                    from: {
                      type: 'string',
                      id: 4
                    },
                    topic: {
                      type: 'string',
                      id: 5
                    },
                    payload: {
                      type: 'bytes',
                      id: 6
                    },
                    timestamp: {
                      type: 'uint64',
                      id: 7
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
};
