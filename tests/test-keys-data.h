/* test-keys-data.h: keys Morango must refuse, made with OpenSSL for these tests only
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

/* RSA 1024 bits: the wrong size. */
static const char key_1024_pem[] =
  "-----BEGIN RSA PRIVATE KEY-----\n"
  "MIICXAIBAAKBgQDzcOYv2R2RetxWSgvLi6ElHtACsrHXR4Z6D9b043AgWEUcK0xM\n"
  "busXpzGZbheeUFLu8R4sY8NiwCM4AO/qMSydM1xYEiMHwu3mCm/5DwM4UVlYa2Ux\n"
  "ceW142xtXZRhGXKP4HBE22tW5ugsd5QSE7aWRncGwJDLBdLVJ0V4o8JdSQIDAQAB\n"
  "AoGAHPZgnG6zQtygHDABCT1adaUd0ERcPiWHTTxXMZlhfKejyT8pe6pyk8TTdNKR\n"
  "QseBpmXPVi6kTzpWtlH+ORmSmgHclGPKztvnMQvIDwj8LyvKCkllW4ajN+jC8p2A\n"
  "PWrG5fH84vCK85Cla6EjFLh1q+qOj2Plou1JtEqoDJJRaqUCQQD6HjdAeKNJeJZw\n"
  "RJ/jG6TG/O6B4spUbgsJosYyG+dPaOt4UmbyWVPJ7oMuctcqX1gnwFTdOcz3jA6a\n"
  "ydE8vyQXAkEA+Sp8WHjTbVdWAW0WF4p016StTeRYu/6HKWmrW5NvN2T+Pe59sfrc\n"
  "e1aR7EmFZGLzpZwA1jSnm8ymbRVWnu2FnwJAE0H8UxR2zhNg0egWv2/DcibLXmjN\n"
  "105ZvzYvOHB5kN2tM6h0kLhcATJCG3NwKa0JppXict4eb/jyruxXFexJpQJANvPt\n"
  "1L1hM/5NE6dxdeOtfVnudv1jrKKoQLPzfRD5OGhnwlT1F+nR8snXCRv19Xv1bJMJ\n"
  "hDS8upnaIrjQD+Em1QJBAIFNLaCbNE4Mc74ZVUsCbV0fwOGeUkA//gG7jLe8T6ZU\n"
  "V/Si6ayQe4oibNcG1HZ5EdzQPbrmOUUSCQSykUupIMU=\n"
  "-----END RSA PRIVATE KEY-----\n";

static const char key_1024_spki[] =
  "-----BEGIN PUBLIC KEY-----\n"
  "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDzcOYv2R2RetxWSgvLi6ElHtAC\n"
  "srHXR4Z6D9b043AgWEUcK0xMbusXpzGZbheeUFLu8R4sY8NiwCM4AO/qMSydM1xY\n"
  "EiMHwu3mCm/5DwM4UVlYa2UxceW142xtXZRhGXKP4HBE22tW5ugsd5QSE7aWRncG\n"
  "wJDLBdLVJ0V4o8JdSQIDAQAB\n"
  "-----END PUBLIC KEY-----\n";

/* RSA 2048 bits with e = 3: the wrong exponent. */
static const char key_e3_pem[] =
  "-----BEGIN RSA PRIVATE KEY-----\n"
  "MIIEowIBAAKCAQEAzwuFpjGPmuPjjUO0dUPjrEB9sUBOM/zIzVSQrAk7gW785d3l\n"
  "O3tUVj4q9cbjc3QVJBgpmDl6ZDIDRMJIboXdu4xyAfqmh7vXw1YztjZ9b/4kZJ2f\n"
  "dDSoTxX/Lwh90hJ5o3E/Rud4GL5X7KJ7juoLliDlHcJX/kmfAB7ieQ6HJ6RimrzV\n"
  "20qLgAMgQ0Cc1bCWlkL0huRv5VJ31GR1Y5/2wA5kN77lOilzHeUShUCsUXW8SHPV\n"
  "8fipLcsQn8QJLpy/X1wnXzRP/kuixjKZ1h6E/86jTM2r631Bs4BGWksB+M4V7jcc\n"
  "exI6lozL5MsCbYs5904BENjPrQBUTDPpcdCKcwIBAwKCAQEAigeubsu1Ee1CXi0i\n"
  "+NftHYBTy4A0IqiF3jhgcrDSVkn97pPuJ6eNjtQco9ns96K4wrrGZXum7Xas2IGF\n"
  "nwPpJ7L2q/xvBSflLOQieXmo9VQYQxO/os3Fig6qH1r+jAxRF6DU2e+lZdQ6ncGn\n"
  "tJwHuWtDaSw6qYZqABSW+18ExRcNrbvAuo/LbAXz8c7nSRQJajwtNGvl1yTwRsJm\n"
  "Z30ajdxgqnxR4QOUjp6eODd9n5TtOy0BdvRvDsmqfB0RzL95qiqGLupvFhaQEDRI\n"
  "xR0IXOy6QRP/j6MFq2BdZYXLu2lbmh92WCokgjh8lqXknUpDkFlUntAjD8svgq87\n"
  "FYqVmwKBgQD6eLD3nDZnXNXR5IykHQiw7zwrXNLM9+LrrGpAD+Xgzr7TPQRGIksl\n"
  "ksQZ0IzyjExV1q4Z2DbObWUG+4bZEVO6teEnqd5owpJc0tNp9hm9LYB1soZDok/g\n"
  "kfPje1w6VRZMN8d8a1xxV6DR6PsQa9OTQgqc++hrB3ZYUr7IL/OuTQKBgQDTnXI9\n"
  "JzxzASRgc/2dywnXh6yFW2/KKrgjvdabuH5uHIT/+wAkRljutTMLYGB9VcoCmQI5\n"
  "51M0KjeJ6hGVainOKjs2bvZAmpdt2xDCuFk7RusWOKlo8bjYoHvWxqYWCpnAT0Bu\n"
  "i3aSe5c/GdcbFchBXL1lJrgwDdk0tW5IoYz7vwKBgQCm+yClEs7vkzk2mF3CvgXL\n"
  "Sigc6IyIpUHycvGACplAidSM01guwYduYdgRNbNMXYg5OclmkCSJnkNZ/QSQtjfR\n"
  "zpYacT7wgbbojIzxTrvTc6r5Ia7XwYqVtqKXp5LRjg7deoT9nOhLj8CL8KdgR+Ji\n"
  "LAcTUpryBPmQNynayqJ0MwKBgQCNE6F+GihMq22VoqkT3LE6WnMDkkqGxyVtKTm9\n"
  "Jameva3//KrC2ZCfI3dc6ur+OTFXEKwmmjd4HCUGnAu48XE0HCd5n07VvGTz52CB\n"
  "0Dt82fIO0HDwoSXlwFKPLxlkBxEq34BJsk8MUmTUu+S8uTArkyjuGdAgCTt4ePQw\n"
  "a7NSfwKBgDlIZk735B+xVszloeys14c0RcosFbjKxTD6DSvwe/sYhCSPxzFMgA1p\n"
  "nXiiw7vRVaplg/tNkoJF7Qf26vDEDCx3ZnS5QwyMoE3yJGc+UTpX7SaXG7Hh6U4e\n"
  "NgVlk5MT+EphXrRK/BXkEL/n8UD8aM+4iNv0xuYvZRb0eHAs9vED\n"
  "-----END RSA PRIVATE KEY-----\n";

static const char key_e3_spki[] =
  "-----BEGIN PUBLIC KEY-----\n"
  "MIIBIDANBgkqhkiG9w0BAQEFAAOCAQ0AMIIBCAKCAQEAzwuFpjGPmuPjjUO0dUPj\n"
  "rEB9sUBOM/zIzVSQrAk7gW785d3lO3tUVj4q9cbjc3QVJBgpmDl6ZDIDRMJIboXd\n"
  "u4xyAfqmh7vXw1YztjZ9b/4kZJ2fdDSoTxX/Lwh90hJ5o3E/Rud4GL5X7KJ7juoL\n"
  "liDlHcJX/kmfAB7ieQ6HJ6RimrzV20qLgAMgQ0Cc1bCWlkL0huRv5VJ31GR1Y5/2\n"
  "wA5kN77lOilzHeUShUCsUXW8SHPV8fipLcsQn8QJLpy/X1wnXzRP/kuixjKZ1h6E\n"
  "/86jTM2r631Bs4BGWksB+M4V7jccexI6lozL5MsCbYs5904BENjPrQBUTDPpcdCK\n"
  "cwIBAw==\n"
  "-----END PUBLIC KEY-----\n";
