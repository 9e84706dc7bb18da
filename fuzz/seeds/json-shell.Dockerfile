FROM scratch
CMD ["a", "b c"]
CMD [ "spaced" ]   
CMD ['single quotes are shell form']
CMD ["trailing comma",]
CMD [] 
CMD
ENTRYPOINT []
ENTRYPOINT exec app --flag
RUN ["sh", "-c", "echo \"escaped\" \u00e9"]
RUN [not json
VOLUME [ "/a", "/b" ]
HEALTHCHECK CMD ["curl", "-f", "http://localhost/"]
HEALTHCHECK NONE
COPY ["with space.txt", "/dst dir/"]
