#!/usr/bin/env python3
"""An S3 server for Haul's cloud tests: moto's S3 (moto[server]) on 127.0.0.1, on a port the system picks.

    s3_server.py OBJECTS_DIR LOG_FILE

Creates the bucket `stpubdata`, uploads every file under OBJECTS_DIR with its relative path as its key
and a public-read ACL, prints the port on standard output once it serves, appends one line a request
to LOG_FILE ("METHOD PATH STATUS", the setup's own requests not included), and serves until killed
(the test stops it by its PID), or until the process that started it is gone.
"""
import os
import sys
import threading

import boto3
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

objects, log_path = sys.argv[1], sys.argv[2]
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
logging = {"on": False}


def counted(environ, start_response):
    def start(status, headers, exc_info=None):
        if logging["on"]:
            with lock, open(log_path, "a") as log:
                log.write(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')} {status.split()[0]}\n")
        return start_response(status, headers, exc_info)
    return app(environ, start)


server = make_server("127.0.0.1", 0, counted, threaded=True)
port = server.server_port
threading.Thread(target=server.serve_forever, daemon=True).start()

s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket="stpubdata")
for folder, _, files in os.walk(objects):
    for name in files:
        path = os.path.join(folder, name)
        key = os.path.relpath(path, objects)
        with open(path, "rb") as body:
            s3.put_object(Bucket="stpubdata", Key=key, Body=body.read(), ACL="public-read")
open(log_path, "w").close()
logging["on"] = True
print(port, flush=True)
parent = os.getppid()
while os.getppid() == parent:
    threading.Event().wait(1)
